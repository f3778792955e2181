package ai.medqa.eval;

import static ai.medqa.eval.Evaluation.PREDICTIONS_FILE;
import static ai.medqa.eval.Evaluation.RUN_FILE;

import ai.medqa.common.AppendLog;
import ai.medqa.common.AtomicFiles;
import ai.medqa.common.Json;
import ai.medqa.eval.Evaluation.AnswerConstraint;
import ai.medqa.eval.Evaluation.Config;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * The run folder as a crash-safe ledger: {@code run.json} says what the run is (a restart with other
 * settings is refused, naming what changed) and {@code predictions.jsonl} holds one synced line per
 * answered (configuration, question) pair, from which a restart learns what is done and the report
 * reads its numbers.
 */
final class RunLedger {
    private static final ObjectMapper JSON = Json.MAPPER;

    private RunLedger() {}

    /**
     * Creates the folder and writes {@code run.json}, or checks that the one there describes this run
     * (refusing another, naming what changed).
     */
    static void claim(Path out, ObjectNode fingerprint) {
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create --out " + out + ": " + e.getMessage(), e);
        }
        checkOrWriteRun(out.resolve(RUN_FILE), fingerprint);
    }

    private static void checkOrWriteRun(Path file, ObjectNode fingerprint) {
        if (Files.exists(file)) {
            JsonNode old;
            try {
                old = JSON.readTree(file.toFile());
            } catch (IOException e) {
                throw new IllegalStateException(
                        file + " cannot be read (" + e.getMessage() + "); use a new --out folder", e);
            }
            List<String> changed = new ArrayList<>();
            Set<String> keys = new TreeSet<>();
            fingerprint.fieldNames().forEachRemaining(keys::add);
            old.fieldNames().forEachRemaining(keys::add);
            for (String k : keys) {
                if (!Objects.equals(old.get(k), fingerprint.get(k))) {
                    changed.add(k + ": " + old.get(k) + " -> " + fingerprint.get(k));
                }
            }
            if (!changed.isEmpty()) {
                throw new IllegalStateException(
                        file.getParent() + " holds another evaluation (" + String.join("; ", changed)
                                + "); continue it with the same settings or use a new --out folder");
            }
            return;
        }
        writeAtomically(file, fingerprint.toPrettyString());
    }

    /** The answer constraint {@code run.json} in {@code out} names ({@link AnswerConstraint#NONE} without one). */
    static AnswerConstraint constraint(Path out) {
        Path run = out.resolve(RUN_FILE);
        if (!Files.exists(run)) {
            return AnswerConstraint.NONE;
        }
        try {
            JsonNode constrain = JSON.readTree(run.toFile()).get("constrain");
            return constrain == null ? AnswerConstraint.NONE : AnswerConstraint.parse(constrain.asText());
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalStateException(run + ": cannot read its \"constrain\" (" + e.getMessage() + ")", e);
        }
    }

    /** (config, pubid) of the complete lines ({@link AppendLog} has cut off a half-written last one). */
    static Set<String> done(AppendLog predictions) {
        Set<String> done = new HashSet<>();
        for (ObjectNode line : predictionLines(predictions)) {
            String k = key(line.get("config").asText(), line.get("pubid").asText());
            if (!done.add(k)) {
                throw new IllegalStateException(predictions.file() + ": " + k + " appears twice");
            }
        }
        return done;
    }

    /** The prediction lines of a log, each checked to be one. */
    private static List<ObjectNode> predictionLines(AppendLog predictions) {
        List<ObjectNode> out = predictions.lines();
        for (int i = 0; i < out.size(); i++) {
            if (!out.get(i).has("config") || !out.get(i).has("pubid")) {
                throw new IllegalStateException(predictions.file() + ": record " + (i + 1) + " is not a prediction");
            }
        }
        return out;
    }

    /** The prediction lines of the folder {@code out} by configuration, in the order they first appear. */
    static Map<String, List<ObjectNode>> byConfig(Path out) {
        Map<String, List<ObjectNode>> byConfig = new LinkedHashMap<>();
        for (ObjectNode line : predictionLines(AppendLog.open(out.resolve(PREDICTIONS_FILE)))) {
            byConfig.computeIfAbsent(line.get("config").asText(), k -> new ArrayList<>())
                    .add(line);
        }
        return byConfig;
    }

    static String key(String config, String pubid) {
        return config + "\t" + pubid;
    }

    /**
     * Lines scored elsewhere (in any order) in the order a run writes them: configurations, then
     * questions, as selected.
     *
     * @throws IllegalStateException when a line is not of this run, a pair appears twice or is missing
     */
    static List<String> inRunOrder(List<Config> configs, List<PubMedQaItem> items, Collection<String> lines) {
        Map<String, Integer> configIndex = new HashMap<>();
        for (int c = 0; c < configs.size(); c++) {
            configIndex.put(configs.get(c).name(), c);
        }
        Map<String, Integer> itemIndex = new HashMap<>();
        for (int i = 0; i < items.size(); i++) {
            itemIndex.put(items.get(i).pmid(), i);
        }
        String[] ordered = new String[configs.size() * items.size()];
        for (String text : lines) {
            JsonNode line;
            try {
                line = JSON.readTree(text);
            } catch (IOException e) {
                throw new IllegalStateException("not a prediction line (" + e.getMessage() + "): " + text, e);
            }
            Integer c = line.hasNonNull("config")
                    ? configIndex.get(line.get("config").asText())
                    : null;
            Integer i =
                    line.hasNonNull("pubid") ? itemIndex.get(line.get("pubid").asText()) : null;
            if (c == null || i == null) {
                throw new IllegalStateException("a prediction of another run (configuration " + line.get("config")
                        + ", pubid " + line.get("pubid") + ")");
            }
            int at = c * items.size() + i;
            if (ordered[at] != null) {
                throw new IllegalStateException(
                        key(line.get("config").asText(), line.get("pubid").asText())
                                        .replace('\t', ' ') + " appears twice");
            }
            ordered[at] = text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
        }
        List<String> missing = new ArrayList<>();
        for (int at = 0; at < ordered.length; at++) {
            if (ordered[at] == null) {
                missing.add(configs.get(at / items.size()).name() + " "
                        + items.get(at % items.size()).pmid());
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException(missing.size() + " of " + ordered.length
                    + " predictions are missing, first " + missing.subList(0, Math.min(5, missing.size())));
        }
        return List.of(ordered);
    }

    /** Replaces {@code predictions.jsonl} in {@code out} with {@code lines}, atomically. */
    static void rewrite(Path out, List<String> lines) {
        AtomicFiles.write(out.resolve(PREDICTIONS_FILE), o -> {
            for (String line : lines) {
                o.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            }
        });
    }

    static void writeAtomically(Path target, String text) {
        AtomicFiles.write(target, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }
}
