package ai.medqa.eval;

import ai.medqa.common.Json;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.StopReason;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs every sampling setting of a grid over a list of questions and collects a table ready for the
 * metrics module: each row's JSON line has {@code candidate} and {@code reference}, the fields
 * {@code medqa score} reads, plus the settings and timing.
 */
public final class ParameterGrid {
    private static final Logger log = LoggerFactory.getLogger(ParameterGrid.class);

    /** A question and the answer it is scored against (null when there is none). */
    public record Question(String id, String question, String reference) {}

    /** One generated answer. */
    public record Row(
            int setting,
            GenerationConfig config,
            Question question,
            String answer,
            int newTokens,
            StopReason stopReason,
            long millis) {

        /** The row as one JSON object: settings by their Hugging Face names, then the texts. */
        public String toJsonLine() {
            ObjectNode json = JSON.createObjectNode();
            json.put("setting", setting);
            json.put("do_sample", config.doSample());
            json.put("temperature", config.temperature());
            json.put("top_k", config.topK());
            json.put("top_p", config.topP());
            config.minP().ifPresent(p -> json.put("min_p", p));
            json.put("repetition_penalty", config.repetitionPenalty());
            json.put("max_new_tokens", config.maxNewTokens());
            config.seed().ifPresent(s -> json.put("seed", s));
            json.put("id", question.id());
            json.put("question", question.question());
            json.put("candidate", answer);
            if (question.reference() != null) {
                json.put("reference", question.reference());
            }
            json.put("new_tokens", newTokens);
            json.put("stop_reason", stopReason.name());
            json.put("millis", millis);
            return json.toString();
        }
    }

    private static final ObjectMapper JSON = Json.MAPPER;

    private ParameterGrid() {}

    /**
     * The product {@code temperatures x topPs x repetitionPenalties} over {@code base} (sampling on),
     * in that nesting order. The seed project's grid is
     * {@code product(base, {0.3, 0.7}, {0.8, 0.95}, {1.0, 1.2})}.
     */
    public static List<GenerationConfig> product(
            GenerationConfig base, double[] temperatures, double[] topPs, double[] repetitionPenalties) {
        List<GenerationConfig> grid = new ArrayList<>();
        for (double t : temperatures) {
            for (double p : topPs) {
                for (double r : repetitionPenalties) {
                    grid.add(base.toBuilder()
                            .doSample(true)
                            .temperature(t)
                            .topP(p)
                            .repetitionPenalty(r)
                            .build());
                }
            }
        }
        return grid;
    }

    /**
     * Answers every question under every setting with {@code answer} (for example
     * {@code medqa::ask}), logging progress.
     */
    public static List<Row> run(
            List<Question> questions,
            List<GenerationConfig> settings,
            BiFunction<String, GenerationConfig, Generation> answer) {
        List<Row> rows = new ArrayList<>();
        int total = questions.size() * settings.size();
        for (int s = 0; s < settings.size(); s++) {
            GenerationConfig config = settings.get(s);
            for (Question q : questions) {
                long t0 = System.nanoTime();
                Generation g = answer.apply(q.question(), config);
                long millis = (System.nanoTime() - t0) / 1_000_000;
                rows.add(new Row(s, config, q, g.text(), g.tokens().length, g.stopReason(), millis));
                if (rows.size() % 10 == 0 || rows.size() == total) {
                    log.info(
                            "grid: {}/{} answers ({} settings x {} questions)",
                            rows.size(),
                            total,
                            settings.size(),
                            questions.size());
                }
            }
        }
        return rows;
    }

    /** Writes the rows as JSON Lines, atomically (a temp file in the same folder, then a move). */
    public static void writeJsonl(Path file, List<Row> rows) {
        StringBuilder out = new StringBuilder();
        for (Row r : rows) {
            out.append(r.toJsonLine()).append('\n');
        }
        Path tmp = file.toAbsolutePath().resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, out, StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
