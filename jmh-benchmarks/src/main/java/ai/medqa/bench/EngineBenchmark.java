package ai.medqa.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.Generator;
import ai.medqa.io.DType;
import ai.medqa.model.KvCache;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * one operation per token), on the fixture shapes and a ~100M-parameter Mistral-shaped random model.
 *
 * <p>{@code decodeLoop} runs the whole generation loop (sampling with temperature, top-p and
 * repetition penalty, stop checks, KV cache) and {@code decodeForward} only the forward steps of the
 * same run: their ratio is the loop's overhead outside the forward pass.
 *
 * <pre>
 * java -jar jmh-benchmarks/target/benchmarks.jar Engine -f 1 -wi 2 -i 3 -w 2 -r 3
 * </pre>
 *
 * <p>{@code fused} switches between the fused TorchScript decoder step and the op-by-op layers. On a
 * shared machine, append {@code -jvmArgsAppend "-Dai.djl.pytorch.num_threads=1
 * -Dai.djl.pytorch.num_interop_threads=1"}: with PyTorch's default of one spinning intra-op thread
 * per core, another busy process on a 2-core machine cuts throughput by 10-50x and the comparison
 * means nothing.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
public class EngineBenchmark {
    static final int PROMPT = 16;
    static final int NEW = 32;

    /** A fixture folder under the repository root, or {@code random100m}. */
    @Param({"medqa-core/src/test/resources/fixtures/llama-rc/A/f32",
        "medqa-core/src/test/resources/fixtures/llama-rc/B/f32",
        "medqa-core/src/test/resources/fixtures/mistral-swa/f32",
        "random100m"})
    public String model;

    @Param({"F32"})
    public String precision;

    /**
     * {@code true}: cached steps go through the fused TorchScript decoder (the default);
     * {@code false}: op-by-op DJL layers ({@code -Dmedqa.fused=false}). Compare the two rows of a
     * benchmark for the speed-up.
     */
    @Param({"true", "false"})
    public String fused;

    private MistralModel m;
    private Generator generator;
    private GenerationConfig sampling;
    private int[] prompt;
    private KvCache cache;
    private Path tmp;

    @Setup(Level.Trial)
    public void load() throws Exception {
        System.setProperty("ai.djl.offline", "true");
        // Read when the model loads; each trial loads its own model.
        System.setProperty("medqa.fused", fused);
        Path dir;
        if (model.equals("random100m")) {
            tmp = Files.createTempDirectory("medqa-bench");
            // hidden 768, 8 layers, 12 heads / 4 KV heads, intermediate 2048, vocab 32000, untied: 99.6M parameters.
            MistralConfig config = RandomCheckpoint.config(768, 2048, 8, 12, 4, 32000, 2048, 4096);
            RandomCheckpoint.write(tmp, config, DType.F16, 1);
            dir = tmp;
        } else {
            dir = Path.of(model);
            if (!Files.isDirectory(dir)) {
                throw new IllegalStateException(dir.toAbsolutePath() + " not found: run from the repository root");
            }
        }
        DataType dtype = precision.equals("F16") ? DataType.FLOAT16 : DataType.FLOAT32;
        m = MistralModel.load(dir, Device.cpu(), dtype, LinearFactory.DENSE);
        generator = new Generator(m, null);
        sampling = GenerationConfig.sampling().toBuilder().temperature(0.7).topP(0.9).repetitionPenalty(1.2)
                .maxNewTokens(NEW).eosTokenIds(Set.of()).seed(1).build();
        prompt = new int[PROMPT];
        for (int i = 0; i < PROMPT; i++) {
            prompt[i] = 1 + (i * 37) % (m.config().vocabSize() - 1);
        }
        cache = m.newCache(PROMPT + NEW);
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        cache.close();
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

    /** 32 single-token decode steps after a 16-token prompt (the prefill is included, ~1 step's cost). */
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
