package ai.medqa.bench;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.io.DType;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.quant.Quantization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Peak resident memory of loading a model, beside the bytes its weights need: not a JMH benchmark
 * (a peak is one number per process). Writes the random model once into {@code dir} (reused later).
 *
 * <pre>
 * java -Xmx14g -cp jmh-benchmarks/target/benchmarks.jar ai.medqa.bench.LoadMemory model=L format=F32 dir=/tmp/medqa-L
 * java -Xmx14g -cp jmh-benchmarks/target/benchmarks.jar ai.medqa.bench.LoadMemory model=7B4 format=INT4 dir=/tmp/medqa-7b4
 * </pre>
 *
 * {@code model}: {@code L} (TinyLlama-1.1B's shape) or {@code 7B4} (Mistral-7B's shapes with 4 of
 * its 32 layers); {@code format}: F32, F16, INT4, INT8, NF4 (projections; compute F32 unless F16,
 * {@code INT4_F16} for int4 with F16 compute). Run each in a fresh JVM.
 */
public final class LoadMemory {
    private LoadMemory() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("ai.djl.offline", "true");
        String model = FineTuneBenchmark.arg(args, "model", "L");
        String format = FineTuneBenchmark.arg(args, "format", "F32");
        Path dir = Path.of(FineTuneBenchmark.arg(args, "dir", "/tmp/medqa-" + model));
        MistralConfig config = model.equals("L")
                ? new MistralConfig(
                        "llama", 2048, 5632, 22, 32, 4, 64, 32000, 1e-5, 10000.0, 0, 2048, false, 1, List.of(2), null)
                : new MistralConfig(
                        "mistral",
                        4096,
                        14336,
                        4,
                        32,
                        8,
                        128,
                        32000,
                        1e-5,
                        10000.0,
                        4096,
                        4096,
                        false,
                        1,
                        List.of(2),
                        null);
        if (!Files.exists(dir.resolve("model.safetensors"))) {
            RandomCheckpoint.write(dir, config, DType.F16, 1);
            System.out.println("wrote " + dir + "; run again in a fresh JVM to measure");
            return;
        }
        boolean f16 = format.equals("F16") || format.endsWith("_F16");
        Quantization q = switch (format.replace("_F16", "")) {
            case "F32", "F16" -> Quantization.NONE;
            default -> Quantization.parse(format.replace("_F16", ""));
        };
        long h = config.hiddenSize();
        long projections = (long) config.numHiddenLayers()
                * (2 * h * h
                        + 2 * h * (long) config.numKeyValueHeads() * config.headDim()
                        + 3 * h * config.intermediateSize());
        long others = 2L * config.vocabSize() * h; // embeddings and lm_head, in the compute dtype
        double bits = switch (q) {
            case NONE -> f16 ? 16 : 32;
            case INT4 -> 4 + 32.0 / 64;
            case INT8 -> 8;
            case NF4 -> 4.127;
        };
        double expected = projections * bits / 8 + others * (f16 ? 2 : 4);
        long rss0 = FineTuneBenchmark.status("VmRSS");
        long started = System.nanoTime();
        try (MistralModel m =
                MistralModel.load(dir, Device.cpu(), f16 ? DataType.FLOAT16 : DataType.FLOAT32, q.linears())) {
            long rss = FineTuneBenchmark.status("VmRSS");
            long hwm = FineTuneBenchmark.status("VmHWM");
            System.out.printf(
                    Locale.ROOT,
                    "%s %s: weights by arithmetic %.2f GB; resident after load %.2f GB "
                            + "(%.2f GB above the JVM's %.2f GB before), peak %.2f GB; load %.1f s%n",
                    model,
                    format,
                    expected / 1e9,
                    rss * 1024 / 1e9,
                    (rss - rss0) * 1024 / 1e9,
                    rss0 * 1024 / 1e9,
                    hwm * 1024 / 1e9,
                    (System.nanoTime() - started) / 1e9);
        }
    }
}
