package ai.medqa.finetune;

import ai.medqa.common.Json;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import ai.medqa.metrics.pubmedqa.PubMedQaLoader;
import ai.medqa.metrics.pubmedqa.PubMedQaSplit;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads training files: PubMedQA ({@code ori_pqal.json}, or JSON Lines with Hugging Face's field
 * names) and JSON Lines of {@code {"prompt": ..., "completion": ...}} pairs. PubMedQA's official
 * 500-question test split is removed unless the caller insists: training on it would make every
 * later PubMedQA score meaningless.
 */
final class TrainingData {
    private static final Logger log = LoggerFactory.getLogger(TrainingData.class);
    private static final ObjectMapper JSON = Json.MAPPER;

    record Loaded(List<Example> examples, boolean pubMedQa, int heldOutTest) {}

    private TrainingData() {}

    static Loaded load(Path file, boolean includeOfficialTest) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("data file " + file + " does not exist");
        }
        if (!isPairs(file)) {
            List<PubMedQaItem> items = PubMedQaLoader.load(file);
            List<PubMedQaItem> kept = includeOfficialTest ? items : PubMedQaSplit.nonTest(items);
            int held = items.size() - kept.size();
            if (includeOfficialTest) {
                int inTest = PubMedQaSplit.test(items).size();
                if (inTest > 0) {
                    log.warn(
                            "training on {} questions of PubMedQA's official test split, as asked:"
                                    + " PubMedQA scores of this adapter are not comparable with published ones",
                            inTest);
                }
            } else if (held > 0) {
                log.info(
                        "{}: held out {} questions of PubMedQA's official test split; training on {}",
                        file,
                        held,
                        kept.size());
            }
            return new Loaded(kept.stream().map(Example::of).toList(), true, held);
        }
        return new Loaded(readPairs(file), false, 0);
    }

    /** A {@code .jsonl} file whose first record has {@code prompt} and {@code completion}. */
    private static boolean isPairs(Path file) {
        if (!file.getFileName().toString().endsWith(".jsonl")) {
            return false;
        }
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            while ((line = r.readLine()) != null) {
                if (!line.isBlank()) {
                    JsonNode rec = JSON.readTree(line);
                    return rec != null && rec.has("prompt") && rec.has("completion");
                }
            }
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    static List<Example> readPairs(Path file) {
        List<Example> out = new ArrayList<>();
        Json.forEachLine(file, IllegalArgumentException::new, (n, where, rec) -> {
            JsonNode p = rec.get("prompt");
            JsonNode c = rec.get("completion");
            if (p == null || !p.isTextual() || c == null || !c.isTextual()) {
                throw new IllegalArgumentException(where + ": expected {\"prompt\": text, \"completion\": text}");
            }
            if (c.asText().isEmpty()) {
                throw new IllegalArgumentException(where + ": the completion is empty; nothing to learn");
            }
            out.add(Example.pair("line " + n, p.asText(), c.asText()));
        });
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + ": no examples");
        }
        return out;
    }
}
