package ai.medqa.metrics.pubmedqa;

import ai.medqa.common.Json;
import ai.medqa.metrics.MetricsException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The benchmark's official 500-question test split ({@code test_ground_truth.json} of
 * github.com/pubmedqa/pubmedqa, MIT, bundled with this module): PMID to expert label.
 */
public final class PubMedQaSplit {
    private static final String RESOURCE = "test_ground_truth.json";
    private static volatile Map<String, PubMedQaLabel> officialTest;

    private PubMedQaSplit() {}

    /** PMID to label of the 500 test questions, in the file's order. */
    public static Map<String, PubMedQaLabel> officialTestLabels() {
        Map<String, PubMedQaLabel> m = officialTest;
        if (m == null) {
            m = Collections.unmodifiableMap(read());
            officialTest = m;
        }
        return m;
    }

    /** The items of {@code all} in the official test split, in {@code all}'s order. */
    public static List<PubMedQaItem> test(List<PubMedQaItem> all) {
        return select(all, true);
    }

    /** The items of {@code all} not in the official test split (PQA-L's train/dev part). */
    public static List<PubMedQaItem> nonTest(List<PubMedQaItem> all) {
        return select(all, false);
    }

    private static List<PubMedQaItem> select(List<PubMedQaItem> all, boolean inTest) {
        Map<String, PubMedQaLabel> test = officialTestLabels();
        List<PubMedQaItem> out = new ArrayList<>();
        for (PubMedQaItem i : all) {
            if (test.containsKey(i.pmid()) == inTest) {
                out.add(i);
            }
        }
        return out;
    }

    private static Map<String, PubMedQaLabel> read() {
        try (InputStream in = PubMedQaSplit.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new MetricsException("bundled resource " + RESOURCE + " is missing from medqa-metrics");
            }
            JsonNode root = Json.MAPPER.readTree(in);
            Map<String, PubMedQaLabel> m = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : root.properties()) {
                m.put(
                        e.getKey(),
                        PubMedQaLabel.parse(e.getValue().asText())
                                .orElseThrow(() -> new MetricsException(
                                        RESOURCE + ": record " + e.getKey() + ": bad label " + e.getValue())));
            }
            return m;
        } catch (IOException e) {
            throw new MetricsException("cannot read bundled " + RESOURCE + ": " + e.getMessage(), e);
        }
    }
}
