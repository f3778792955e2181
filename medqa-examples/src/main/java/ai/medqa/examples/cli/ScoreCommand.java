package ai.medqa.examples.cli;

import ai.medqa.metrics.MetricsException;
import ai.medqa.metrics.lexical.PairScorer;
import ai.medqa.metrics.stats.Summary;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Score candidate answers against references: nltk BLEU, SQuAD/set F1, rouge-score ROUGE.")
public final class ScoreCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--in", required = true, description = "JSON Lines input with candidate and reference")
    Path in;

    @Option(names = "--out", required = true, description = "JSON Lines output: input fields plus metrics")
    Path out;

    @Option(names = "--seed", defaultValue = "0", description = "bootstrap seed for the summary (default ${DEFAULT-VALUE})")
    long seed;

    PrintStream err = System.err;

    private final PairScorer scorer = new PairScorer();

    @Override
    public Integer call() throws IOException {
        Map<String, List<Double>> columns = new LinkedHashMap<>();
        Path target = out.toAbsolutePath();
        Files.createDirectories(target.getParent());
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
        int n = 0;
        try {
            try (BufferedReader r = Files.newBufferedReader(in, StandardCharsets.UTF_8);
                 BufferedWriter w = new BufferedWriter(new OutputStreamWriter(Files.newOutputStream(tmp), StandardCharsets.UTF_8))) {
                String line;
                int lineNo = 0;
                while ((line = r.readLine()) != null) {
                    lineNo++;
                    if (line.isBlank()) {
                        continue;
                    }
                    ObjectNode rec = parse(line, lineNo);
                    Map<String, Double> scores = score(rec, lineNo);
                    scores.forEach((k, v) -> {
                        rec.put(k, v);
                        columns.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
                    });
                    w.write(JSON.writeValueAsString(rec));
                    w.write('\n');
                    n++;
                }
            }
            Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        printSummary(n, columns);
        return 0;
    }

    private ObjectNode parse(String line, int lineNo) {
        try {
            JsonNode node = JSON.readTree(line);
            if (node instanceof ObjectNode) {
                return (ObjectNode) node;
            }
            throw new MetricsException(in + ": line " + lineNo + ": expected a JSON object");
        } catch (JsonProcessingException e) {
            throw new MetricsException(in + ": line " + lineNo + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    Map<String, Double> score(ObjectNode rec, int lineNo) {
        String where = in + ": line " + lineNo;
        JsonNode cand = rec.get("candidate");
        if (cand == null || !cand.isTextual()) {
            throw new MetricsException(where + ": field 'candidate' must be a string");
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
        } else {
            throw new MetricsException(where + ": field 'reference' must be a string or a non-empty list of strings");
        }
        return refs;
    }

    private void printSummary(int n, Map<String, List<Double>> columns) {
        err.printf(Locale.ROOT, "scored %d pairs: %s -> %s%n", n, in, out);
        if (n == 0) {
            return;
        }
        err.printf(Locale.ROOT, "%-18s %8s %8s   %s%n", "metric", "mean", "std", "95% CI (bootstrap, seed " + seed + ")");
        for (Map.Entry<String, List<Double>> e : columns.entrySet()) {
            Summary s = Summary.of(e.getValue().stream().mapToDouble(Double::doubleValue).toArray(), seed);
            err.printf(Locale.ROOT, "%-18s %8.4f %8.4f   [%.4f, %.4f]%n", e.getKey(), s.mean(), s.std(), s.ciLow(), s.ciHigh());
        }
    }
}
