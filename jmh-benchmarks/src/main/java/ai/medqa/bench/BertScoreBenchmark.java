package ai.medqa.bench;

import ai.medqa.common.Json;
import ai.medqa.metrics.bertscore.BertEncoder;
import ai.medqa.metrics.bertscore.BertScore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * BERTScore pairs per second on the offline MiniLM encoder (layer 5, no idf): 32 PubMedQA pairs
 * (closing sentence of the abstract vs the long answer, 64 distinct texts) per invocation, encoded
 * one text per forward pass (batch 1) or 32 texts per pass (batch 32).
 *
 * <p>{@code java -jar jmh-benchmarks/target/benchmarks.jar BertScore -f 1 -wi 1 -i 3 -w 2 -r 3}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class BertScoreBenchmark {
    private static final int PAIRS = 32;

    @Param({"1", "32"})
    public int batchSize;

    private BertEncoder encoder;
    private BertScore scorer;
    private final List<String> candidates = new ArrayList<>();
    private final List<String> references = new ArrayList<>();

    @Setup
    public void setUp() throws IOException {
        System.setProperty("ai.djl.offline", "true");
        try (InputStream in = BertScoreBenchmark.class.getResourceAsStream("/bench/bertscore_pairs.jsonl")) {
            ObjectMapper mapper = Json.MAPPER;
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                JsonNode j = mapper.readTree(line);
                candidates.add(j.get("conclusion").asText());
                references.add(j.get("long_answer").asText());
            }
        }
        if (candidates.size() != PAIRS) {
            throw new IllegalStateException("expected " + PAIRS + " pairs, read " + candidates.size());
        }
        encoder = BertEncoder.miniLm();
        scorer = BertScore.builder(encoder).batchSize(batchSize).build();
    }

    @TearDown
    public void tearDown() {
        encoder.close();
    }

    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public List<BertScore.Score> pairs() {
        return scorer.score(candidates, references);
    }
}
