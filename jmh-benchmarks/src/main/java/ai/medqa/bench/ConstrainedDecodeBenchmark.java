package ai.medqa.bench;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.common.Json;
import ai.medqa.generate.Constraint;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.Generator;
import ai.medqa.io.DType;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of constrained decoding per generated token: whole generations ({@link Generator}: forward
 * pass, mask, sampler, stop rule) of {@code NEW} tokens after an 8-token prompt, with no constraint,
 * a JSON Schema, or a regular expression, at batch 1 and 8, over Mistral's 32,000-token vocabulary.
 * The figure is {@code decode:tokens}, generated tokens per second over all rows (the prompts'
 * prefill is included: about one step's cost in {@code NEW}).
 *
 * <p>Models (random weights, Mistral's tokenizer): {@code S} (dim 64, 2 layers, 32,000 vocabulary:
 * the forward pass is small, so the mask's per-token loop over the vocabulary shows) and {@code M}
 * ({@link EngineBenchmark}'s, ~100M parameters). Every invocation samples the same answers (seeded),
 * so after the warm-up every automaton state they visit has its allowed-token set cached: the
 * figures are the steady state, not the first use of a state.
 *
 * <p>{@code json}: {"answer": yes|no|maybe, "explanation": string, "evidence": [string, at most 3]}
 * (a random model rarely closes a string, so answers run until the budget closes them, ~{@code NEW}
 * tokens); {@code regex}: {@code [a-z ]{0,2000}} (never complete within {@code NEW} tokens: every row
 * runs the whole budget). End-of-sequence is off in every case so unconstrained rows run the budget too.
 *
 * <pre>
 * java -Dai.djl.offline=true -jar jmh-benchmarks/target/benchmarks.jar ConstrainedDecode -p model=S -f 1 -wi 2 -i 5 \
 *     -w 2 -r 3 -jvmArgsAppend "-Dai.djl.pytorch.num_threads=1"
 * java -Dai.djl.offline=true -jar jmh-benchmarks/target/benchmarks.jar ConstrainedDecode -p model=M -f 1 -wi 1 -i 3 \
 *     -w 5 -r 10 -jvmArgsAppend "-Dai.djl.pytorch.num_threads=1"
 * </pre>
 * Run from the repository root (Mistral's tokenizer is read from medqa-core's test resources).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
public class ConstrainedDecodeBenchmark {
    static final int PROMPT = 8;
    static final int NEW = 128;
    static final String SCHEMA = """
            {"type": "object", "properties": {"answer": {"enum": ["yes", "no", "maybe"]},
              "explanation": {"type": "string"},
              "evidence": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
             "required": ["answer", "explanation", "evidence"], "additionalProperties": false}""";

    /** {@code S} or {@code M}. */
    @Param({"S", "M"})
    public String model;

    /** {@code none}, {@code json} or {@code regex}. */
    @Param({"none", "json", "regex"})
    public String constraint;

    @Param({"1", "8"})
    public int batch;

    /** The folder of Mistral's tokenizer.json ({@code -Dmedqa.tokenizer=DIR}; relative to the repository root). */
    static final String TOKENIZER =
            System.getProperty("medqa.tokenizer", "medqa-core/src/test/resources/tokenizer/mistral-7b-v0.1");

    private Path tmp;
    private MistralModel m;
    private Tokenizer tok;
    private Generator generator;
    private GenerationConfig config;
    private List<int[]> prompts;

    /** Tokens generated in the iteration, over all rows: reported per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Tokens {
        public long tokens;

        @Setup(Level.Iteration)
        public void reset() {
            tokens = 0;
        }
    }

    @Setup(Level.Trial)
    public void load() throws Exception {
        System.setProperty("ai.djl.offline", "true");
        Path tokenizerJson = Path.of(TOKENIZER, "tokenizer.json");
        if (!Files.exists(tokenizerJson)) {
            throw new IllegalStateException(
                    tokenizerJson.toAbsolutePath() + " not found: run from the repository root");
        }
        tmp = Files.createTempDirectory("medqa-bench");
        MistralConfig c = switch (model) {
            case "S" -> RandomCheckpoint.config(64, 128, 2, 4, 2, 32000, 2048, 0);
            case "M" ->
                new MistralConfig(
                        "mistral", 768, 2048, 12, 12, 4, 64, 32000, 1e-5, 10000.0, 0, 2048, true, 1, List.of(2), null);
            default -> throw new IllegalArgumentException("model " + model + ": expected S or M");
        };
        RandomCheckpoint.write(tmp, c, model.equals("S") ? DType.F32 : DType.F16, 1);
        Files.copy(tokenizerJson, tmp.resolve("tokenizer.json"));
        m = MistralModel.load(tmp, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE);
        tok = Tokenizer.load(tmp);
        generator = new Generator(m, tok);
        Constraint k = switch (constraint) {
            case "none" -> null;
            case "json" -> Constraint.jsonSchema(Json.MAPPER.readTree(SCHEMA));
            case "regex" -> Constraint.regex("[a-z ]{0,2000}");
            default ->
                throw new IllegalArgumentException("constraint " + constraint + ": expected none, json or regex");
        };
        // MedQA.ask's sampling (temperature 0.7, top-p 0.95), seeded: every invocation draws the same answers.
        config = GenerationConfig.sampling().toBuilder()
                .temperature(0.7)
                .topP(0.95)
                .maxNewTokens(NEW)
                .eosTokenIds(Set.of())
                .seed(1)
                .constraint(k)
                .build();
        prompts = new ArrayList<>();
        for (int r = 0; r < batch; r++) {
            int[] p = new int[PROMPT];
            p[0] = 1;
            for (int i = 1; i < PROMPT; i++) {
                p[i] = 1 + (i * 37 + r * 101) % (c.vocabSize() - 1);
            }
            prompts.add(p);
        }
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        tok.close();
        m.close();
        try (var files = Files.list(tmp)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.delete(f);
            }
        }
        Files.delete(tmp);
    }

    /** One batch of generations; {@code tokens} counts what they generated. */
    @Benchmark
    public int decode(Tokens counter) {
        List<Generation> out = batch == 1
                ? List.of(generator.generate(prompts.get(0), config))
                : generator.generateBatch(prompts, config);
        int n = 0;
        for (Generation g : out) {
            n += g.tokens().length;
        }
        counter.tokens += n;
        return n;
    }
}
