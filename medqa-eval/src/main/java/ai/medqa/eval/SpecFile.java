package ai.medqa.eval;

import ai.medqa.MedQA;
import ai.medqa.common.Json;
import ai.medqa.generate.GenerationConfig;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Configurations from a JSON file: an array (or {@code {"configs": [...]}}) of objects with
 * {@code name} (required), {@code template} (with {@code {question}} and {@code {context}}),
 * {@code system_prompt}, {@code adapter}, {@code contexts} (default true) and, for generate mode,
 * {@code sampling}: {@code temperature}, {@code top_p}, {@code top_k}, {@code min_p},
 * {@code repetition_penalty}, {@code max_new_tokens}, {@code seed}. Unknown fields and placeholders
 * are refused, naming the file and field.
 */
public final class SpecFile {
    private static final Set<String> FIELDS =
            Set.of("name", "template", "system_prompt", "adapter", "contexts", "sampling");
    private static final Set<String> SAMPLING =
            Set.of("temperature", "top_p", "top_k", "min_p", "repetition_penalty", "max_new_tokens", "seed");

    private SpecFile() {}

    public static List<Evaluation.Config> read(Path file) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": not JSON (" + e.getMessage() + ")", e);
        }
        JsonNode array = root != null && root.isObject() ? root.get("configs") : root;
        if (array == null || !array.isArray() || array.isEmpty()) {
            throw new IllegalArgumentException(
                    file + ": expected a non-empty array of configurations (or {\"configs\": [...]})");
        }
        List<Evaluation.Config> out = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            JsonNode c = array.get(i);
            String where = file + ": configs[" + i + "]";
            if (!c.isObject()) {
                throw new IllegalArgumentException(where + ": expected an object");
            }
            for (Iterator<String> it = c.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!FIELDS.contains(f)) {
                    throw new IllegalArgumentException(where + ": unknown field \"" + f + "\"; known: " + FIELDS);
                }
            }
            if (!c.path("name").isTextual()) {
                throw new IllegalArgumentException(where + ".name: expected a string");
            }
            GenerationConfig sampling = c.has("sampling") ? sampling(c.get("sampling"), where + ".sampling") : null;
            try {
                out.add(new Evaluation.Config(
                        c.get("name").asText(),
                        text(c, "adapter", where),
                        !c.has("contexts") || c.get("contexts").asBoolean(),
                        text(c, "system_prompt", where),
                        sampling,
                        text(c, "template", where)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    private static String text(JsonNode c, String field, String where) {
        JsonNode v = c.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException(where + "." + field + ": expected a string");
        }
        return v.asText();
    }

    private static GenerationConfig sampling(JsonNode s, String where) {
        if (!s.isObject()) {
            throw new IllegalArgumentException(where + ": expected an object");
        }
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!SAMPLING.contains(f)) {
                throw new IllegalArgumentException(where + ": unknown field \"" + f + "\"; known: " + SAMPLING);
            }
        }
        GenerationConfig.Builder b = MedQA.ASK_DEFAULTS.toBuilder();
        if (s.has("temperature")) {
            b.temperature(s.get("temperature").asDouble());
        }
        if (s.has("top_p")) {
            b.topP(s.get("top_p").asDouble());
        }
        if (s.has("top_k")) {
            b.topK(s.get("top_k").asInt());
        }
        if (s.has("min_p")) {
            b.minP(s.get("min_p").asDouble());
        }
        if (s.has("repetition_penalty")) {
            b.repetitionPenalty(s.get("repetition_penalty").asDouble());
        }
        if (s.has("max_new_tokens")) {
            b.maxNewTokens(s.get("max_new_tokens").asInt());
        }
        if (s.has("seed")) {
            b.seed(s.get("seed").asLong());
        }
        try {
            return b.build();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
    }
}
