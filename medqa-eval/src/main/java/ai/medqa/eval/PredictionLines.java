package ai.medqa.eval;

import ai.medqa.MedQA;
import ai.medqa.common.Json;
import ai.medqa.eval.Evaluation.AnswerConstraint;
import ai.medqa.eval.Evaluation.Config;
import ai.medqa.eval.Evaluation.Mode;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.metrics.lexical.PairScorer;
import ai.medqa.metrics.pubmedqa.AnswerExtractor;
import ai.medqa.metrics.pubmedqa.Classification;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import ai.medqa.metrics.pubmedqa.PubMedQaLabel;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The prediction lines of questions under one configuration: likelihood mode's most likely answer
 * with its log-likelihoods, or generate mode's written answers, read into a prediction and scored by
 * the lexical (and any further) metrics.
 */
final class PredictionLines {
    // Evaluation's logger: the warnings keep the name a log configuration knows the run by.
    private static final Logger log = LoggerFactory.getLogger(Evaluation.class);

    private PredictionLines() {}

    /** The lines of {@code items}, generate mode's as one batch ({@link Evaluation#lines} says more). */
    static List<ObjectNode> of(
            MedQA medqa,
            Config config,
            List<PubMedQaItem> items,
            Mode mode,
            boolean bos,
            PairScorer pairs,
            AnswerMetrics answerMetrics,
            AnswerConstraint constrain) {
        return mode == Mode.GENERATE
                ? generated(medqa, config, items, pairs, answerMetrics, constrain)
                : likelihood(medqa, config, items, bos);
    }

    private static List<ObjectNode> generated(
            MedQA medqa,
            Config config,
            List<PubMedQaItem> items,
            PairScorer pairs,
            AnswerMetrics answerMetrics,
            AnswerConstraint constrain) {
        List<ObjectNode> out = new ArrayList<>(items.size());
        List<Answer> answers = answers(medqa, config, items, constrain);
        int cut = 0;
        for (int k = 0; k < items.size(); k++) {
            PubMedQaItem item = items.get(k);
            Answer answer = answers.get(k);
            ObjectNode line = newLine(config, item);
            // What the metrics score: the free text, or the JSON answer's explanation (not its syntax).
            String prose = answer.text();
            if (constrain == AnswerConstraint.JSON) {
                JsonAnswer json = JsonAnswer.read(answer.text());
                line.put("prediction", json.answer());
                prose = json.explanation();
                cut += json.complete() ? 0 : 1;
            } else {
                line.put(
                        "prediction",
                        AnswerExtractor.extract(answer.text())
                                .map(PubMedQaLabel::text)
                                .orElse(Classification.UNKNOWN));
            }
            line.put("answer", answer.text());
            line.put("truncated_contexts", answer.truncated());
            pairs.score(prose, item.longAnswer()).forEach(line::put);
            if (answerMetrics != null) {
                answerMetrics.score(item.question(), prose, item.longAnswer()).forEach(line::put);
            }
            out.add(line);
        }
        if (cut > 0) {
            log.warn(
                    "{}: {} of {} JSON answers were cut by max_new_tokens={} before they closed; their answer field "
                            + "was read from what they wrote (raise max_new_tokens for whole explanations)",
                    config.name(),
                    cut,
                    items.size(),
                    config.sampling().maxNewTokens());
        }
        return out;
    }

    private static List<ObjectNode> likelihood(MedQA medqa, Config config, List<PubMedQaItem> items, boolean bos) {
        List<ObjectNode> out = new ArrayList<>(items.size());
        LikelihoodScorer scorer = new LikelihoodScorer(medqa.model(), medqa.tokenizer(), bos);
        for (PubMedQaItem item : items) {
            LikelihoodScorer.Scored s = scorer.score(item, config.contexts(), config.template(), config.systemPrompt());
            ObjectNode line = newLine(config, item);
            line.put("prediction", s.prediction());
            ObjectNode ll = line.putObject("loglikelihood");
            s.loglikelihood().forEach(ll::put);
            line.put("truncated_contexts", s.truncated());
            out.add(line);
        }
        return out;
    }

    private static ObjectNode newLine(Config config, PubMedQaItem item) {
        ObjectNode line = Json.MAPPER.createObjectNode();
        line.put("config", config.name());
        line.put("pubid", item.pmid());
        line.put("label", item.finalDecision().text());
        return line;
    }

    /** The notebook's generation: each question's {@link Prompts#chat} prompt, the configuration's sampling. */
    static List<Answer> answers(MedQA medqa, Config config, List<PubMedQaItem> items, AnswerConstraint constrain) {
        List<int[]> prompts = new ArrayList<>();
        List<Integer> truncated = new ArrayList<>();
        for (PubMedQaItem item : items) {
            Prompts.Prompt p = Prompts.chat(medqa, config, item);
            prompts.add(p.ids());
            truncated.add(p.truncated());
        }
        GenerationConfig sampling = constrain == AnswerConstraint.JSON
                ? config.sampling().toBuilder()
                        .constraint(JsonAnswer.constraint())
                        .build()
                : config.sampling();
        List<Generation> generations = medqa.generateIdsBatch(prompts, sampling);
        List<Answer> out = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            out.add(new Answer(generations.get(i).text(), truncated.get(i)));
        }
        return out;
    }

    /** A generated answer and how many abstract sections were left out to fit. */
    record Answer(String text, int truncated) {}
}
