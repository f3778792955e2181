package ai.medqa.eval;

import ai.medqa.common.Json;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import ai.medqa.metrics.pubmedqa.PubMedQaLoader;
import ai.medqa.metrics.pubmedqa.PubMedQaSplit;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * PubMedQA's 1,000 expert-labelled questions ({@code ori_pqal.json}, MIT, bundled) or another copy,
 * and the selection an evaluation runs on. PMIDs are strings everywhere.
 */
public final class PubMedQaData {
    private final List<PubMedQaItem> all;
    private final String source;

    private PubMedQaData(List<PubMedQaItem> all, String source) {
        this.all = List.copyOf(all);
        this.source = source;
    }

    /** The bundled {@code ori_pqal.json}, in the file's order. */
    public static PubMedQaData bundled() {
        try (InputStream in = PubMedQaData.class.getResourceAsStream("ori_pqal.json")) {
            if (in == null) {
                throw new IllegalStateException("ori_pqal.json is missing from medqa-eval's jar");
            }
            return new PubMedQaData(
                    PubMedQaLoader.oriPqalInFileOrder(Json.MAPPER.readTree(in), "bundled ori_pqal.json"),
                    "bundled ori_pqal.json (PubMedQA, MIT)");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code ori_pqal.json} format or Hugging Face JSON Lines ({@code .jsonl}). */
    public static PubMedQaData load(Path file) {
        return new PubMedQaData(PubMedQaLoader.load(file), file.toAbsolutePath().toString());
    }

    public String source() {
        return source;
    }

    public List<PubMedQaItem> all() {
        return all;
    }

    /** Which questions a run evaluates. */
    public enum Split {
        /** The official 500-question test split (the benchmark's reported figure). */
        TEST,
        /** All 1,000 (what lm-evaluation-harness scores; the Open Medical-LLM leaderboard's figure). */
        ALL
    }

    /**
     * The questions to evaluate: {@code pubids} (from the whole data set, in the order given) when
     * not empty, else the split in file order, cut to the first {@code limit} when {@code limit > 0}.
     *
     * @throws IllegalArgumentException naming the PMIDs that are not in the data
     */
    public List<PubMedQaItem> select(Split split, List<String> pubids, int limit) {
        List<PubMedQaItem> chosen;
        if (!pubids.isEmpty()) {
            Map<String, PubMedQaItem> byId = new LinkedHashMap<>();
            all.forEach(i -> byId.put(i.pmid(), i));
            List<String> missing =
                    pubids.stream().filter(p -> !byId.containsKey(p)).toList();
            if (!missing.isEmpty()) {
                throw new IllegalArgumentException("pubids not in " + source + ": " + missing);
            }
            chosen = pubids.stream().map(byId::get).toList();
        } else if (split == Split.TEST) {
            Set<String> test = PubMedQaSplit.officialTestLabels().keySet();
            chosen = all.stream().filter(i -> test.contains(i.pmid())).toList();
        } else {
            chosen = all;
        }
        if (limit > 0 && limit < chosen.size()) {
            chosen = new ArrayList<>(chosen.subList(0, limit));
        }
        return chosen;
    }
}
