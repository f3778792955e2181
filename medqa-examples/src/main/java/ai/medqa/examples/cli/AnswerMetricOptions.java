package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.eval.AnswerMetrics;
import ai.medqa.metrics.bertscore.BertEncoder;
import ai.medqa.metrics.bertscore.BertScore;
import ai.medqa.metrics.judge.JudgeModel;
import ai.medqa.metrics.judge.LlmJudge;
import ai.medqa.metrics.judge.OpenAiChatModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code medqa eval}'s metrics beyond the lexical ones (BERTScore, a local or remote judge): the
 * options, their checks, and the encoder and judge they load, as one {@link AnswerMetrics}.
 */
final class AnswerMetricOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    @Option(
            names = "--bertscore",
            description = "generate mode: also bertscore_p, bertscore_r, bertscore_f of each answer "
                    + "against the long answer (all-MiniLM-L6-v2, bundled).")
    boolean bertscore;

    @Option(
            names = "--judge-dir",
            description = "generate mode: rate each answer 1-4 with a local judge model folder "
                    + "(the judge prompt of medqa judge; judge_rating per line).")
    Path judgeDir;

    @Option(
            names = "--judge-endpoint",
            description = "generate mode: an OpenAI-compatible chat-completions endpoint as the judge.")
    String judgeEndpoint;

    @Option(names = "--judge-model", description = "The endpoint's model name for --judge-endpoint.")
    String judgeModel;

    @Option(
            names = "--judge-api-key-env",
            defaultValue = "OPENAI_API_KEY",
            description = "Environment variable holding the endpoint's key (default ${DEFAULT-VALUE}; never logged).")
    String judgeApiKeyEnv;

    /** Usage errors: the metrics score written answers, and one judge at a time. */
    void check(boolean generate) {
        if ((bertscore || judgeDir != null || judgeEndpoint != null) && !generate) {
            throw new ParameterException(
                    mixee.commandLine(), "--bertscore and the judge apply to --mode generate (answers to score)");
        }
        if (judgeDir != null && judgeEndpoint != null) {
            throw new ParameterException(mixee.commandLine(), "give --judge-dir or --judge-endpoint, not both");
        }
        if (judgeEndpoint != null && judgeModel == null) {
            throw new ParameterException(mixee.commandLine(), "--judge-endpoint needs --judge-model NAME");
        }
    }

    /** The BERTScore encoder of --bertscore, loaded (null without it); the caller closes it. */
    BertEncoder encoder() throws IOException {
        return bertscore ? BertEncoder.miniLm() : null;
    }

    /** The local judge model of --judge-dir, loaded (null without it); the caller closes it. */
    MedQA localJudge() {
        return judgeDir != null ? MedQA.builder().model(judgeDir).build() : null;
    }

    /**
     * The metrics asked for, over the {@link #encoder} and {@link #localJudge} loaded (or the
     * --judge-endpoint); null when none was asked for.
     */
    AnswerMetrics metrics(BertEncoder encoder, MedQA localJudge) throws IOException {
        JudgeModel judge = localJudge != null
                ? new LocalJudgeModel(localJudge, judgeDir.toString(), 256, 0.0)
                : judgeEndpoint != null
                        ? OpenAiChatModel.builder()
                                .baseUrl(judgeEndpoint)
                                .model(judgeModel)
                                .apiKeyEnv(judgeApiKeyEnv)
                                .temperature(0.0)
                                .maxTokens(256)
                                .build()
                        : null;
        return metrics(encoder, judge);
    }

    private static AnswerMetrics metrics(BertEncoder encoder, JudgeModel judge) throws IOException {
        List<AnswerMetrics> metrics = new ArrayList<>();
        if (encoder != null) {
            BertScore bs = BertScore.builder(encoder).build();
            metrics.add(new AnswerMetrics() {
                @Override
                public List<String> fields() {
                    return List.of("bertscore_p", "bertscore_r", "bertscore_f");
                }

                @Override
                public Map<String, Double> score(String question, String answer, String reference) {
                    BertScore.Score sc = bs.score(answer, reference);
                    Map<String, Double> m = new LinkedHashMap<>();
                    m.put("bertscore_p", sc.precision());
                    m.put("bertscore_r", sc.recall());
                    m.put("bertscore_f", sc.f1());
                    return m;
                }
            });
        }
        if (judge != null) {
            LlmJudge llmJudge = new LlmJudge(judge);
            metrics.add(new AnswerMetrics() {
                @Override
                public List<String> fields() {
                    return List.of("judge_rating");
                }

                @Override
                public Map<String, Double> score(String question, String answer, String reference) {
                    OptionalDouble rating =
                            llmJudge.judge(question, answer, reference).rating();
                    // An unparsed verdict has no rating: the field is left out, not made up.
                    return rating.isPresent() ? Map.of("judge_rating", rating.getAsDouble()) : Map.of();
                }
            });
        }
        return metrics.isEmpty() ? null : AnswerMetrics.combine(metrics);
    }
}
