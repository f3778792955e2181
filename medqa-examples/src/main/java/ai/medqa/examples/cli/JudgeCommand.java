package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.common.AtomicFiles;
import ai.medqa.common.Json;
import ai.medqa.metrics.MetricsException;
import ai.medqa.metrics.judge.JudgeModel;
import ai.medqa.metrics.judge.JudgeVerdict;
import ai.medqa.metrics.judge.LlmJudge;
import ai.medqa.metrics.judge.OpenAiChatModel;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code medqa judge --in answers.jsonl --out judged.jsonl (--model DIR | --endpoint URL --judge-model NAME)}:
 * rates each answer 1-4 with an LLM judge on the seed's rubric.
 *
 * <p>Each input line needs {@code question} and {@code answer}; {@code reference} (an expert answer
 * shown to the judge) and {@code human_rating} are optional; other fields are kept. Each output line
 * gains {@code judge_rating} (a number, or null when the reply had no rating within 1-4),
 * {@code judge_feedback} and {@code judge_status} ({@code ok}, {@code missing_rating},
 * {@code out_of_range}). The whole input is checked before the first call to the judge, and the output
 * is written only when every line has been judged, so a failed run leaves no partial file.
 */
@Command(
        name = "judge",
        mixinStandardHelpOptions = true,
        description = "Rate answers 1-4 with an LLM judge (local model or OpenAI-compatible endpoint).")
public final class JudgeCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = Json.MAPPER;

    @Option(names = "--in", required = true, description = "JSON Lines input with question and answer")
    Path in;

    @Option(
            names = "--out",
            required = true,
            description = "JSON Lines output: input fields plus judge_rating, judge_feedback, judge_status")
    Path out;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Judge judge;

    static final class Judge {
        @Option(names = "--model", description = "Judge with a local model folder (Mistral-Instruct prompt format)")
        Path model;

        @ArgGroup(exclusive = false)
        Remote remote;
    }

    static final class Remote {
        @Option(
                names = "--endpoint",
                required = true,
                description = "OpenAI-compatible base URL, e.g. https://api.openai.com/v1 or http://localhost:8000/v1")
        URI endpoint;

        @Option(names = "--judge-model", required = true, description = "The model name the endpoint serves")
        String judgeModel;
    }

    @Option(
            names = "--api-key-env",
            defaultValue = "OPENAI_API_KEY",
            description =
                    "Environment variable holding the endpoint's API key (default ${DEFAULT-VALUE}); never logged")
    String apiKeyEnv;

    @Option(
            names = "--temperature",
            defaultValue = "0",
            description = "Judge sampling temperature (default ${DEFAULT-VALUE}: greedy)")
    double temperature;

    @Option(
            names = "--max-tokens",
            defaultValue = "512",
            description = "Longest judge reply in tokens (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(
            names = "--timeout",
            defaultValue = "120",
            description = "Seconds one endpoint request may take (default ${DEFAULT-VALUE})")
    long timeoutSeconds;

    @Option(
            names = "--max-attempts",
            defaultValue = "5",
            description =
                    "Endpoint attempts per answer, retrying 429, 5xx and timeouts with back-off (default ${DEFAULT-VALUE})")
    int maxAttempts;

    @Option(
            names = "--device",
            defaultValue = "cpu",
            description = "Local model: cpu, cuda or cuda:N (default ${DEFAULT-VALUE})")
    String device;

    @Option(
            names = "--precision",
            defaultValue = "F32",
            description = "Local model: F32 or F16 compute (default ${DEFAULT-VALUE})")
    MedQA.Precision precision;

    PrintStream err = System.err;
    /** Where the API key is looked up; tests replace it. */
    Function<String, String> environment = System::getenv;
    /** The endpoint's first back-off; tests shorten it. */
    Duration initialBackoff = Duration.ofSeconds(1);

    private record Line(ObjectNode record, double humanRating) {}

    @Override
    public Integer call() throws IOException {
        List<Line> lines = read();
        List<LlmJudge.Item> items = new ArrayList<>(lines.size());
        for (Line l : lines) {
            JsonNode ref = l.record().get("reference");
            items.add(new LlmJudge.Item(
                    l.record().get("question").asText(),
                    l.record().get("answer").asText(),
                    ref == null || ref.isNull() ? null : ref.asText()));
        }
        List<JudgeVerdict> verdicts;
        if (judge.model != null) {
            try (MedQA medqa = MedQA.builder()
                    .model(judge.model)
                    .device(device)
                    .precision(precision)
                    .build()) {
                verdicts = new LlmJudge(new LocalJudgeModel(medqa, judge.model.toString(), maxTokens, temperature))
                        .judgeAll(items);
            }
        } else {
            verdicts = new LlmJudge(remote()).judgeAll(items);
        }
        write(lines, verdicts);
        printSummary(lines, verdicts);
        return 0;
    }

    private JudgeModel remote() {
        return OpenAiChatModel.builder()
                .baseUrl(judge.remote.endpoint)
                .model(judge.remote.judgeModel)
                .apiKeyEnv(apiKeyEnv)
                .environment(environment)
                .temperature(temperature)
                .maxTokens(maxTokens)
                .requestTimeout(Duration.ofSeconds(timeoutSeconds))
                .maxAttempts(maxAttempts)
                .backoff(initialBackoff, Duration.ofSeconds(60))
                .build();
    }

    /** Reads and checks every line first: a typo on line 900 should not cost 899 paid judge calls. */
    private List<Line> read() throws IOException {
        List<Line> lines = new ArrayList<>();
        int lineNo = 0;
        for (String text : TextFiles.lines(in)) {
            lineNo++;
            if (!text.isBlank()) {
                lines.add(parse(text, in + ": line " + lineNo));
            }
        }
        return lines;
    }

    private static Line parse(String text, String where) {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new MetricsException(where + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (!(node instanceof ObjectNode rec)) {
            throw new MetricsException(where + ": expected a JSON object");
        }
        for (String field : List.of("question", "answer")) {
            if (rec.get(field) == null) {
                throw new MetricsException(
                        where + ": no field '" + field + "' (a string); the line has " + ScoreCommand.fieldNames(rec));
            }
            if (!rec.get(field).isTextual()) {
                throw new MetricsException(
                        where + ": field '" + field + "' is " + rec.get(field) + "; expected a string");
            }
        }
        JsonNode ref = rec.get("reference");
        if (ref != null && !ref.isNull() && !ref.isTextual()) {
            throw new MetricsException(where + ": field 'reference' must be a string or null");
        }
        JsonNode human = rec.get("human_rating");
        if (human != null && !human.isNull() && !human.isNumber()) {
            throw new MetricsException(where + ": field 'human_rating' must be a number or null");
        }
        return new Line(rec, human == null || human.isNull() ? Double.NaN : human.asDouble());
    }

    private void write(List<Line> lines, List<JudgeVerdict> verdicts) {
        AtomicFiles.write(out, stream -> {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < lines.size(); i++) {
                ObjectNode rec = lines.get(i).record();
                JudgeVerdict v = verdicts.get(i);
                if (v.isRated()) {
                    rec.put("judge_rating", v.rating().getAsDouble());
                } else {
                    rec.putNull("judge_rating");
                }
                rec.put("judge_feedback", v.feedback());
                rec.put("judge_status", v.status().name().toLowerCase(Locale.ROOT));
                sb.append(JSON.writeValueAsString(rec)).append('\n');
            }
            stream.write(sb.toString().getBytes(StandardCharsets.UTF_8));
        });
    }

    private void printSummary(List<Line> lines, List<JudgeVerdict> verdicts) {
        err.printf(Locale.ROOT, "judged %d answers: %s -> %s%n", lines.size(), in, out);
        Map<JudgeVerdict.Status, Integer> counts = new EnumMap<>(JudgeVerdict.Status.class);
        double sum = 0;
        for (JudgeVerdict v : verdicts) {
            counts.merge(v.status(), 1, Integer::sum);
            sum += v.rating().orElse(0);
        }
        int rated = counts.getOrDefault(JudgeVerdict.Status.OK, 0);
        err.printf(
                Locale.ROOT,
                "ratings: %d usable, %d missing, %d out of range%s%n",
                rated,
                counts.getOrDefault(JudgeVerdict.Status.MISSING_RATING, 0),
                counts.getOrDefault(JudgeVerdict.Status.OUT_OF_RANGE, 0),
                rated == 0 ? "" : String.format(Locale.ROOT, "; mean %.3f", sum / rated));
        double[] human = lines.stream().mapToDouble(Line::humanRating).toArray();
        if (lines.stream().anyMatch(l -> !Double.isNaN(l.humanRating()))) {
            LlmJudge.Agreement a = LlmJudge.agreement(verdicts, human);
            err.printf(
                    Locale.ROOT,
                    "agreement with human_rating over %d pairs: Pearson %.4f, Spearman %.4f%n",
                    a.pairs(),
                    a.pearson(),
                    a.spearman());
        }
    }
}
