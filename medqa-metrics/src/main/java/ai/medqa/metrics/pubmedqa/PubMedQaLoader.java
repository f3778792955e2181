package ai.medqa.metrics.pubmedqa;

import ai.medqa.common.Json;
import ai.medqa.metrics.MetricsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads PubMedQA in its two common shapes: the original {@code ori_pqal.json} (an object keyed by
 * PMID with QUESTION, CONTEXTS, LONG_ANSWER, final_decision) and JSON Lines with Hugging Face's
 * field names ({@code pubid}, {@code question}, {@code context}, {@code long_answer},
 * {@code final_decision}; {@code context} may be HF's {@code {"contexts": [...]}} object, a list
 * or a string). A malformed record fails with a {@link MetricsException} naming the file, the
 * record and the field.
 */
public final class PubMedQaLoader {
    private static final Logger LOG = LoggerFactory.getLogger(PubMedQaLoader.class);
    private static final ObjectMapper JSON = Json.MAPPER;

    private PubMedQaLoader() {}

    /** Reads either format, by extension: {@code .jsonl} is JSON Lines, anything else ori_pqal. */
    public static List<PubMedQaItem> load(Path file) {
        String name = file.getFileName().toString();
        return name.endsWith(".jsonl") ? loadJsonLines(file) : loadOriPqal(file);
    }

    /** {@code ori_pqal.json}; items in ascending numeric PMID order. */
    public static List<PubMedQaItem> loadOriPqal(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new MetricsException("cannot read PubMedQA file " + file + ": " + e.getMessage(), e);
        }
        List<PubMedQaItem> items = new ArrayList<>(oriPqalInFileOrder(root, file.toString()));
        items.sort(
                Comparator.comparing((PubMedQaItem i) -> numericKey(i.pmid())).thenComparing(PubMedQaItem::pmid));
        LOG.debug("loaded {} PubMedQA items from {}", items.size(), file);
        return items;
    }

    /** The records of a parsed {@code ori_pqal.json} in the file's order; {@code source} names it in errors. */
    public static List<PubMedQaItem> oriPqalInFileOrder(JsonNode root, String source) {
        if (root == null || !root.isObject()) {
            throw new MetricsException(source + ": expected a JSON object keyed by PMID");
        }
        List<PubMedQaItem> items = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String where = source + ": record " + e.getKey();
            JsonNode rec = e.getValue();
            if (!rec.isObject()) {
                throw new MetricsException(where + ": expected an object");
            }
            items.add(new PubMedQaItem(
                    e.getKey(),
                    text(rec, "QUESTION", where),
                    textList(rec, "CONTEXTS", where),
                    text(rec, "LONG_ANSWER", where),
                    label(rec, "final_decision", where)));
        }
        return items;
    }

    /** JSON Lines with Hugging Face's field names; blank lines are skipped. Order as in the file. */
    public static List<PubMedQaItem> loadJsonLines(Path file) {
        List<PubMedQaItem> items = new ArrayList<>();
        Json.forEachLine(file, MetricsException::new, (n, line, rec) -> {
            JsonNode id = rec.get("pubid");
            if (id == null || !(id.isTextual() || id.isIntegralNumber())) {
                throw new MetricsException(line + ": field 'pubid' is missing or not a string/integer");
            }
            String where = line + " (pubid " + id.asText() + ")";
            items.add(new PubMedQaItem(
                    id.asText(),
                    text(rec, "question", where),
                    hfContexts(rec, where),
                    text(rec, "long_answer", where),
                    label(rec, "final_decision", where)));
        });
        return items;
    }

    private static List<String> hfContexts(JsonNode rec, String where) {
        JsonNode c = rec.get("context");
        if (c != null && c.isObject()) {
            return textList(c, "contexts", where + ": field 'context'");
        }
        if (c != null && c.isTextual()) {
            return List.of(c.asText());
        }
        return textList(rec, "context", where);
    }

    private static String text(JsonNode rec, String field, String where) {
        JsonNode v = rec.get(field);
        if (v == null || !v.isTextual()) {
            throw new MetricsException(where + ": field '" + field + "' is " + describe(v) + ", expected a string");
        }
        return v.asText();
    }

    private static List<String> textList(JsonNode rec, String field, String where) {
        JsonNode v = rec.get(field);
        if (v == null || !v.isArray()) {
            throw new MetricsException(
                    where + ": field '" + field + "' is " + describe(v) + ", expected a list of strings");
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            if (!v.get(i).isTextual()) {
                throw new MetricsException(
                        where + ": field '" + field + "[" + i + "]' is " + describe(v.get(i)) + ", expected a string");
            }
            out.add(v.get(i).asText());
        }
        return out;
    }

    private static PubMedQaLabel label(JsonNode rec, String field, String where) {
        String s = text(rec, field, where);
        return PubMedQaLabel.parse(s)
                .orElseThrow(() -> new MetricsException(
                        where + ": field '" + field + "' is '" + s + "', expected yes, no or maybe"));
    }

    private static String describe(JsonNode v) {
        return v == null ? "missing" : v.getNodeType().toString().toLowerCase(Locale.ROOT);
    }

    private static long numericKey(String pmid) {
        try {
            return Long.parseLong(pmid);
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }
}
