package ai.medqa.examples.cli;

import ai.medqa.common.Json;
import ai.medqa.common.Staging;
import ai.medqa.metrics.MetricsException;
import ai.medqa.metrics.bertscore.BertEncoder;
import ai.medqa.metrics.bertscore.BertScore;
import ai.medqa.metrics.lexical.PairScorer;
import ai.medqa.metrics.stats.Summary;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code medqa score --in pairs.jsonl --out scores.jsonl}: adds the lexical metrics to each line.
 * Each input line needs {@code candidate} and {@code reference} (a string or a list of strings);
 * other fields are kept. A summary (mean, std, 95% bootstrap CI per metric) goes to stderr.
 *
 * <p>To add a metric family (BERTScore, say), add an option and put its values into {@link #score}.
 */
@Command(
        name = "score",
        mixinStandardHelpOptions = true,
        description = "Score candidate answers against references: nltk BLEU, SQuAD/set F1, rouge-score ROUGE.")
public final class ScoreCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = Json.MAPPER;

    @Option(names = "--in", required = true, description = "JSON Lines input with candidate and reference")
    Path in;

    @Option(names = "--out", required = true, description = "JSON Lines output: input fields plus metrics")
    Path out;

    @Option(
            names = "--seed",
            defaultValue = "0",
            description = "bootstrap seed for the summary (default ${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = "--bertscore",
            description = "Also add bertscore_p, bertscore_r, bertscore_f (default encoder: all-MiniLM-L6-v2, bundled)")
    boolean bertscore;

    @Option(names = "--encoder", description = "BERT/RoBERTa Hugging Face folder for --bertscore instead of MiniLM")
    Path encoder;

    @Option(names = "--layer", description = "Encoder layer for --bertscore (default: the model's bert-score default)")
    Integer layer;

    @Option(names = "--idf", description = "Weight --bertscore tokens by idf computed from the references")
    boolean idf;

    @Option(names = "--baseline", description = "bert-score baseline CSV (LAYER,P,R,F) to rescale with")
    Path baseline;

    PrintStream err = System.err;

    private final PairScorer scorer = new PairScorer();

    @Override
    public Integer call() throws IOException {
        Map<String, List<Double>> columns = new LinkedHashMap<>();
        Path target = out.toAbsolutePath();
        if (Files.isDirectory(target)) {
            throw new IllegalArgumentException("--out " + out + " is a directory; give the path of the file to write");
        }
        Files.createDirectories(target.getParent());
        List<ObjectNode> records = new ArrayList<>();
        List<List<String>> refs = new ArrayList<>();
        int lineNo = 0;
        for (String line : TextFiles.lines(in)) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            ObjectNode rec = parse(line, lineNo);
            Map<String, Double> scores = score(rec, lineNo);
            scores.forEach(rec::put);
            records.add(rec);
            refs.add(references(rec.get("reference"), in + ": line " + lineNo));
        }
        if (bertscore) {
            addBertScore(records, refs);
        }
        int n = records.size();
        Path tmp = Staging.file(target);
        try {
            try (BufferedWriter w =
                    new BufferedWriter(new OutputStreamWriter(Files.newOutputStream(tmp), StandardCharsets.UTF_8))) {
                for (ObjectNode rec : records) {
                    w.write(JSON.writeValueAsString(rec));
                    w.write('\n');
                    rec.properties().forEach(e -> {
                        if (e.getValue().isDouble()) {
                            columns.computeIfAbsent(e.getKey(), x -> new ArrayList<>())
                                    .add(e.getValue().asDouble());
                        }
                    });
                }
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        printSummary(n, columns);
        return 0;
    }

    /**
     * BERTScore of every pair in one batched run (idf, when asked, comes from all references); with
     * several references a line keeps the one with the best F1, as bert-score does.
     */
    private void addBertScore(List<ObjectNode> records, List<List<String>> refs) throws IOException {
        List<String> cands = new ArrayList<>();
        List<String> flatRefs = new ArrayList<>();
        for (int i = 0; i < records.size(); i++) {
            for (String ref : refs.get(i)) {
                cands.add(records.get(i).get("candidate").asText());
                flatRefs.add(ref);
            }
        }
        try (BertEncoder enc = encoder == null ? BertEncoder.miniLm() : BertEncoder.load(encoder)) {
            BertScore.Builder b = BertScore.builder(enc).idf(idf);
            if (layer != null) {
                b.layer(layer);
            }
            if (baseline != null) {
                b.baseline(baseline);
            }
            List<BertScore.Score> scores = b.build().score(cands, flatRefs);
            int k = 0;
            for (int i = 0; i < records.size(); i++) {
                BertScore.Score best = null;
                for (int j = 0; j < refs.get(i).size(); j++, k++) {
                    if (best == null || scores.get(k).f1() > best.f1()) {
                        best = scores.get(k);
                    }
                }
                records.get(i).put("bertscore_p", best.precision());
                records.get(i).put("bertscore_r", best.recall());
                records.get(i).put("bertscore_f", best.f1());
            }
        }
    }

    private ObjectNode parse(String line, int lineNo) {
        return Json.parseObject(line, in + ": line " + lineNo, MetricsException::new);
    }

    Map<String, Double> score(ObjectNode rec, int lineNo) {
        String where = in + ": line " + lineNo;
        JsonNode cand = rec.get("candidate");
        if (cand == null) {
            throw new MetricsException(
                    where + ": no field 'candidate' (the answer to score; medqa ask --in/--out writes it)"
                            + "; the line has " + Json.fieldNames(rec));
        }
        if (!cand.isTextual()) {
            throw new MetricsException(where + ": field 'candidate' is " + cand + "; expected a string");
        }
        return scorer.score(cand.asText(), references(rec.get("reference"), where));
    }

    private static List<String> references(JsonNode ref, String where) {
        List<String> refs = new ArrayList<>();
        if (ref != null && ref.isTextual()) {
            refs.add(ref.asText());
        } else if (ref != null && ref.isArray() && ref.size() > 0) {
            for (int i = 0; i < ref.size(); i++) {
                if (!ref.get(i).isTextual()) {
                    throw new MetricsException(where + ": field 'reference[" + i + "]' must be a string");
                }
                refs.add(ref.get(i).asText());
            }
        } else if (ref == null) {
            throw new MetricsException(
                    where + ": no field 'reference' (the reference answer, a string or a list of strings)");
        } else {
            throw new MetricsException(
                    where + ": field 'reference' is " + ref + "; expected a string or a non-empty list of strings");
        }
        return refs;
    }

    private void printSummary(int n, Map<String, List<Double>> columns) {
        err.printf(Locale.ROOT, "scored %d pairs: %s -> %s%n", n, in, out);
        if (n == 0) {
            return;
        }
        err.printf(
                Locale.ROOT, "%-18s %8s %8s   %s%n", "metric", "mean", "std", "95% CI (bootstrap, seed " + seed + ")");
        for (Map.Entry<String, List<Double>> e : columns.entrySet()) {
            Summary s = Summary.of(
                    e.getValue().stream().mapToDouble(Double::doubleValue).toArray(), seed);
            err.printf(
                    Locale.ROOT,
                    "%-18s %8.4f %8.4f   [%.4f, %.4f]%n",
                    e.getKey(),
                    s.mean(),
                    s.std(),
                    s.ciLow(),
                    s.ciHigh());
        }
    }
}
