package ai.medqa.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.medqa.io.DType;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraAdapters;
import ai.medqa.lora.LoraConfig;
import ai.medqa.model.AdapterRows;
import ai.medqa.model.Bf16Linear;
import ai.medqa.model.KvCache;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.quant.LmHead;
import ai.medqa.quant.QuantizedLinears;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Batched decode, generated tokens per second over all rows: 8 or 32 rows (16-token prompts,
 * gathered into one cache as the serving engine gathers them) advance {@code STEPS} tokens each, one
 * forward pass per step. {@code adapters}: {@code none} (the base model), {@code one} (every row the
 * same rank-8 q/v adapter), {@code mixed} (row i uses adapter i mod 8 of eight): the mixed batch
 * runs the base products once and each row's own low-rank delta in the same pass.
 *
 * <pre>
 * java -jar jmh-benchmarks/target/benchmarks.jar BatchDecode -p model=M -p format=INT4 -f 1 -wi 1 -i 3 \
 *     -jvmArgsAppend "-Dai.djl.pytorch.num_threads=2"
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 1, time = 3)
@Measurement(iterations = 3, time = 3)
public class BatchDecodeBenchmark {
    static final int PROMPT = 16;
    static final int STEPS = 16;
    static final int ADAPTERS = 8;

    /** {@code M} or {@code L} (EngineBenchmark's shapes). */
    @Param({"M"})
    public String model;

    /** {@code F32}, {@code BF16}, {@code INT8}, {@code INT4} (int4 lm_head with INT4, int8 with INT8). */
    @Param({"INT4"})
    public String format;

    static final int ROWS = 32;

    @Param({"none", "one", "mixed"})
    public String adapters;

    private MistralModel m;
    private KvCache[] prompts;
    private int[] ids;
    private Path tmp;

    @Setup(Level.Trial)
    public void load() throws Exception {
        System.setProperty("ai.djl.offline", "true");
        tmp = Files.createTempDirectory("medqa-bench");
        MistralConfig config = model.equals("M")
                ? new MistralConfig(
                        "mistral", 768, 2048, 12, 12, 4, 64, 32000, 1e-5, 10000.0, 0, 2048, true, 1, List.of(2), null)
                : new MistralConfig(
                        "llama", 2048, 5632, 22, 32, 4, 64, 32000, 1e-5, 10000.0, 0, 2048, false, 1, List.of(2), null);
        RandomCheckpoint.write(tmp, config, DType.F16, 1);
        QuantizedLinears linears = switch (format) {
            case "F32", "BF16" -> QuantizedLinears.dense();
            case "INT8" -> QuantizedLinears.int8().lmHead(LmHead.INT8, 64);
            case "INT4" -> QuantizedLinears.int4(64).lmHead(LmHead.INT4, 64);
            default -> throw new IllegalArgumentException("unknown format " + format);
        };
        m = MistralModel.load(
                tmp, Device.cpu(), DataType.FLOAT32, format.equals("BF16") ? Bf16Linear.converting(linears) : linears);
        LoraAdapters lora = LoraAdapters.of(m);
        ids = new int[ROWS];
        if (!adapters.equals("none")) {
            for (int a = 0; a < ADAPTERS; a++) {
                LoraAdapter adapter =
                        LoraAdapter.create(m, "a" + a, LoraConfig.of(8, 16, 0.0, List.of("q_proj", "v_proj")), a);
                lora.attach(adapter);
            }
        }
        for (int r = 0; r < ROWS; r++) {
            ids[r] = adapters.equals("none")
                    ? AdapterRows.NONE_ID
                    : lora.id("a" + (adapters.equals("one") ? 0 : r % ADAPTERS));
        }
        prompts = new KvCache[ROWS];
        for (int r = 0; r < ROWS; r++) {
            int[] p = new int[PROMPT];
            for (int i = 0; i < PROMPT; i++) {
                p[i] = 1 + (i * 37 + r * 101) % (config.vocabSize() - 1);
            }
            prompts[r] = m.newCache(PROMPT);
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                m.forward(new int[][] {p}, prompts[r], false, AdapterRows.of(ids[r]));
            }
        }
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        for (KvCache c : prompts) {
            c.close();
        }
        m.close();
        try (var files = Files.list(tmp)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.delete(f);
            }
        }
        Files.delete(tmp);
    }

    /** 8 rows, {@code STEPS} decode steps each. */
    @Benchmark
    @OperationsPerInvocation(8 * STEPS)
    public float decode8() {
        return decode(8);
    }

    /** 32 rows, {@code STEPS} decode steps each. */
    @Benchmark
    @OperationsPerInvocation(32 * STEPS)
    public float decode32() {
        return decode(32);
    }

    private float decode(int rows) {
        float sum = 0;
        AdapterRows selection = AdapterRows.of(Arrays.copyOf(ids, rows));
        try (KvCache batch = m.gatherCache(Arrays.copyOf(prompts, rows), new int[rows], STEPS)) {
            int[][] feed = new int[rows][1];
            for (int s = 0; s < STEPS; s++) {
                for (int r = 0; r < rows; r++) {
                    feed[r][0] = 1 + (s * 31 + r * 7) % 31999;
                }
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    sum += m.forward(feed, batch, false, selection).toFloatArray()[0];
                }
            }
        }
        return sum;
    }
}
