package ai.medqa.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.medqa.io.DType;
import ai.medqa.model.DenseLinear;
import ai.medqa.model.KvCache;
import ai.medqa.model.Linear;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.quant.Quantization;
import ai.medqa.quant.QuantizedLinears;
import ai.medqa.quant.internal.Int4Linear;
import ai.medqa.quant.internal.Int4Weight;
import ai.medqa.quant.internal.Int8Linear;
import ai.medqa.quant.internal.Nf4;
import ai.medqa.quant.internal.Nf4Linear;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * 4-bit matmul kernels against dense F32/F16 and INT8 at decode shapes (batch 1), and decode
 * tokens/s of a ~100M-parameter random model with each {@link Quantization}.
 *
 * <pre>java -jar jmh-benchmarks/target/benchmarks.jar QuantMatmul -f 1 -wi 2 -i 3 -w 2 -r 2</pre>
 */
public class QuantMatmulBenchmark {

    /** One projection {@code y = x W^T}, {@code x [1, in]}, {@code W [out, in]}. */
    @State(Scope.Benchmark)
    public static class Matmul {
        /** in x out: q/o_proj, and up/gate_proj of Mistral-7B. */
        @Param({"4096x4096", "4096x14336"})
        public String shape;

        @Param({"F32", "F16", "INT4", "INT8", "NF4", "NF4_F16"})
        public String variant;

        /**
         * Distinct copies of the weight, used in turn: a single 4-bit 4096x4096 weight (8 MB) stays in
         * this CPU's 32 MB L3 cache across calls, which a model's layers never do.
         */
        @Param({"8"})
        public int copies;

        NDManager manager;
        Linear[] linears;
        int next;
        NDArray x;

        @Setup(Level.Trial)
        public void setUp() {
            String[] s = shape.split("x");
            long in = Long.parseLong(s[0]);
            long out = Long.parseLong(s[1]);
            float[] w = new float[Math.toIntExact(in * out)];
            SplittableRandom r = new SplittableRandom(1);
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) (r.nextGaussian() / Math.sqrt(in));
            }
            manager = NDManager.newBaseManager(Device.cpu());
            DataType dtype = variant.endsWith("F16") || variant.equals("F16") ? DataType.FLOAT16 : DataType.FLOAT32;
            linears = new Linear[copies];
            for (int c = 0; c < copies; c++) {
                linears[c] = create(w, in, out, dtype);
            }
            x = manager.randomNormal(new Shape(1, in)).toType(dtype, false);
        }

        private Linear create(float[] w, long in, long out, DataType dtype) {
            long[] wShape = {out, in};
            return switch (variant) {
                case "F32", "F16" -> {
                    try (NDArray a = manager.create(w, new Shape(out, in))) {
                        yield new DenseLinear(a.toType(dtype, true).duplicate());
                    }
                }
                case "NF4", "NF4_F16" -> Nf4Linear.of(Nf4.quantize(w, wShape, true, "bfloat16"), manager, dtype);
                case "INT8" -> new Int8Linear(Int8Linear.Int8Weight.quantize(w, out, in), manager, dtype);
                case "INT4" ->
                    new Int4Linear(Int4Weight.quantize(w, out, in, QuantizedLinears.DEFAULT_GROUP_SIZE), manager);
                default -> throw new IllegalArgumentException(variant);
            };
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            for (Linear l : linears) {
                l.close();
            }
            manager.close();
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public float matmul(Matmul s) {
        try (NDScope scope = new NDScope()) {
            // Reading one value forces the (possibly asynchronous) computation to finish.
            Linear linear = s.linears[s.next];
            s.next = (s.next + 1) % s.linears.length;
            return linear.forward(s.x).getFloat(0, 0);
        }
    }

    /** Decode steps of RandomCheckpoint.config(768, 2048, 8, 12, 4, 32000, 2048, 4096): ~100M parameters. */
    @State(Scope.Benchmark)
    public static class Decode {
        @Param({"NONE", "NF4", "INT8", "INT4"})
        public String quantization;

        Path dir;
        MistralModel model;
        KvCache cache;
        int token = 1;

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            dir = Files.createTempDirectory("medqa-bench-");
            RandomCheckpoint.write(dir, RandomCheckpoint.config(768, 2048, 8, 12, 4, 32000, 2048, 4096), DType.F16, 1);
            var linears = Quantization.valueOf(quantization).linears();
            model = MistralModel.load(dir, Device.cpu(), DataType.FLOAT32, linears);
            cache = model.newCache(512);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            cache.close();
            model.close();
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** One decode step (one token through the model with a KV cache); ops/s = tokens/s. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public int decode(Decode s) {
        if (s.cache.length() == s.cache.capacity()) {
            s.cache.close();
            s.cache = s.model.newCache(512);
        }
        try (NDScope scope = new NDScope()) {
            float[] logits =
                    s.model.forward(new int[][] {{s.token}}, s.cache, false).toFloatArray();
            s.token = 3 + (int) (Math.abs(logits[7]) * 1000) % 30000;
            return s.token;
        }
    }
}
