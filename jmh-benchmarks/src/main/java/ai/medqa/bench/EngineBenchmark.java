package ai.medqa.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.Generator;
import ai.medqa.io.DType;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraAdapters;
import ai.medqa.lora.LoraConfig;
import ai.medqa.model.Bf16Linear;
import ai.medqa.model.DenseLinear;
import ai.medqa.model.KvCache;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MatmulPrecision;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.quant.LmHead;
import ai.medqa.quant.QuantizedLinears;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
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
 * Prefill and decode throughput of the forward pass, in tokens per second (every benchmark counts
 * one operation per token), for each weight format on random models generated at setup:
 * {@code M} (dim 768, hidden 2048, 12 layers, 12 heads / 4 KV heads, vocab 32,000, tied embeddings;
 * ~100M parameters), {@code L} (TinyLlama-1.1B's shape: dim 2048, hidden 5632, 22 layers, 32 / 4
 * heads, untied), or a fixture folder under the repository root.
 *
 * <p>Batched decode (8 and 32 rows, with no, one or eight LoRA adapters in the batch):
 * {@link BatchDecodeBenchmark}.
 *
 * <p>{@code decodeLoop} runs the whole generation loop (sampling with temperature, top-p and
 * repetition penalty, stop checks, KV cache) and {@code decodeForward} only the forward steps of the
 * same run: their ratio is the loop's overhead outside the forward pass. {@code prefill400} is one
 * 400-token prompt (likelihood evaluation is prefill-bound).
 *
 * <pre>
 * java -jar jmh-benchmarks/target/benchmarks.jar Engine.decodeForward -p model=M -f 1 -wi 2 -i 3 -w 2 -r 3 \
 *     -jvmArgsAppend "-Dai.djl.pytorch.num_threads=2"
 * </pre>
 *
 * <p>{@code format}: {@code F32}, {@code F16}, {@code BF16} (bfloat16 products, MedQA.Precision.BF16), {@code INT8}, {@code INT4}, {@code NF4} (projections;
 * quantized formats compute in F32 unless suffixed {@code _F16}), {@code +LORA} (a rank-8 adapter on
 * q_proj and v_proj, unmerged), {@code +HEAD8} / {@code +HEAD4} ({@code lm_head} in int8 / int4, a
 * quantized copy when tied; otherwise {@code lm_head}
 * and embeddings stay in the compute precision, transformers' default). {@code fused=false} runs
 * the op-by-op layers. On a shared machine use {@code num_threads=1}: with PyTorch's spinning
 * intra-op threads, another busy process on a 2-core machine cuts throughput by 10-50x.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
public class EngineBenchmark {
    static final int PROMPT = 16;
    static final int NEW = 64;
    static final int LONG_PROMPT = 400;

    /** {@code M}, {@code L}, or a fixture folder under the repository root. */
    @Param({"M"})
    public String model;

    @Param({"F32", "F32+MEDIUM", "F16", "BF16", "INT8+HEAD8", "INT4+HEAD4", "INT4", "NF4", "F32+LORA", "INT4+HEAD4+LORA"
    })
    public String format;

    /** {@code false}: op-by-op DJL layers ({@code -Dmedqa.fused=false}). */
    @Param({"true"})
    public String fused;

    private MistralModel m;
    private Generator generator;
    private GenerationConfig sampling;
    private int[] prompt;
    private int[] longPrompt;
    private KvCache cache;
    private KvCache longCache;
    private Path tmp;

    @Setup(Level.Trial)
    public void load() throws Exception {
        System.setProperty("ai.djl.offline", "true");
        // Read when the model loads; each trial loads its own model.
        System.setProperty("medqa.fused", fused);
        Path dir;
        if (model.equals("M") || model.equals("L")) {
            tmp = Files.createTempDirectory("medqa-bench");
            MistralConfig config = model.equals("M")
                    ? new MistralConfig(
                            "mistral",
                            768,
                            2048,
                            12,
                            12,
                            4,
                            64,
                            32000,
                            1e-5,
                            10000.0,
                            0,
                            2048,
                            true,
                            1,
                            List.of(2),
                            null)
                    : new MistralConfig(
                            "llama",
                            2048,
                            5632,
                            22,
                            32,
                            4,
                            64,
                            32000,
                            1e-5,
                            10000.0,
                            0,
                            2048,
                            false,
                            1,
                            List.of(2),
                            null);
            RandomCheckpoint.write(tmp, config, DType.F16, 1);
            dir = tmp;
        } else {
            dir = Path.of(model);
            if (!Files.isDirectory(dir)) {
                throw new IllegalStateException(dir.toAbsolutePath() + " not found: run from the repository root");
            }
        }
        m = load(dir, format);
        if (format.contains("+LORA")) {
            LoraAdapters adapters = LoraAdapters.of(m);
            adapters.attach(LoraAdapter.create(m, "bench", LoraConfig.of(8, 16, 0.0, List.of("q_proj", "v_proj")), 1));
            adapters.activate("bench");
        }
        generator = new Generator(m, null);
        sampling = GenerationConfig.sampling().toBuilder()
                .temperature(0.7)
                .topP(0.9)
                .repetitionPenalty(1.2)
                .maxNewTokens(NEW)
                .eosTokenIds(Set.of())
                .seed(1)
                .build();
        prompt = tokens(PROMPT);
        longPrompt = tokens(LONG_PROMPT);
        cache = m.newCache(PROMPT + NEW);
        longCache = m.newCache(LONG_PROMPT);
    }

    /**
     * {@code dir} loaded as {@code format} says (see the class comment; a {@code +LORA} suffix is
     * the caller's): the one reading of format names, shared with {@link SideBySide}.
     */
    static MistralModel load(Path dir, String format) {
        String base = format.split("\\+")[0];
        boolean f16 = base.equals("F16") || base.endsWith("_F16");
        DataType dtype = f16 ? DataType.FLOAT16 : DataType.FLOAT32;
        String quant = base.replace("_F16", "");
        QuantizedLinears linears = switch (quant) {
            case "F32", "F16", "BF16" -> QuantizedLinears.dense();
            case "INT8" -> QuantizedLinears.int8();
            case "INT4" -> QuantizedLinears.int4(QuantizedLinears.DEFAULT_GROUP_SIZE);
            case "NF4" -> QuantizedLinears.nf4(true);
            default -> throw new IllegalArgumentException("unknown format " + format);
        };
        linears.lmHead(
                format.contains("+HEAD8") ? LmHead.INT8 : format.contains("+HEAD4") ? LmHead.INT4 : LmHead.COMPUTE,
                QuantizedLinears.DEFAULT_GROUP_SIZE);
        LinearFactory factory = quant.equals("BF16")
                ? Bf16Linear.converting(linears)
                : DenseLinear.withMatmulPrecision(
                        linears, format.contains("+MEDIUM") ? MatmulPrecision.MEDIUM : MatmulPrecision.HIGHEST);
        return MistralModel.load(dir, Device.cpu(), dtype, factory);
    }

    private int[] tokens(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = 1 + (i * 37) % (m.config().vocabSize() - 1);
        }
        return t;
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        cache.close();
        longCache.close();
        m.close();
        if (tmp != null) {
            try (var files = Files.list(tmp)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.delete(f);
                }
            }
            Files.delete(tmp);
        }
    }

    /** One prefill of a 16-token prompt. */
    @Benchmark
    @OperationsPerInvocation(PROMPT)
    public float prefill() {
        cache.reset();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            return m.forward(new int[][] {prompt}, cache, false).toFloatArray()[0];
        }
    }

    /** One prefill of a 400-token prompt. */
    @Benchmark
    @OperationsPerInvocation(LONG_PROMPT)
    public float prefill400() {
        longCache.reset();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            return m.forward(new int[][] {longPrompt}, longCache, false).toFloatArray()[0];
        }
    }

    /** 64 single-token decode steps after a 16-token prompt (the prefill is included, ~1 step's cost). */
    @Benchmark
    @OperationsPerInvocation(NEW)
    public float decodeForward() {
        cache.reset();
        float sum = 0;
        int[][] feed = {prompt};
        for (int s = 0; s < NEW; s++) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                float[] logits = m.forward(feed, cache, false).toFloatArray();
                sum += logits[0];
                feed = new int[][] {{1 + s}};
            }
        }
        return sum;
    }

    /** The same run through the generation loop with top-p sampling. */
    @Benchmark
    @OperationsPerInvocation(NEW)
    public int decodeLoop() {
        return generator.generate(prompt, sampling).tokens().length;
    }
}
