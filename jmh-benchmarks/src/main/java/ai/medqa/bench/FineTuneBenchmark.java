package ai.medqa.bench;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.finetune.FineTune;
import ai.medqa.finetune.FineTuneResult;
import ai.medqa.finetune.PromptTemplate;
import ai.medqa.finetune.StepStats;
import ai.medqa.io.DType;
import ai.medqa.lora.LoraConfig;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.quant.Quantization;
import ai.medqa.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Timed example (not JMH: one training step is seconds long and allocates native memory that JMH's
 * forks would only hide): LoRA training throughput and peak memory per optimizer step on the
 * ~100M-parameter benchmark model, F32 compute over a dense, NF4 or INT8 base ({@code quantize=}),
 * the seed's adapter (r 8, q_proj and v_proj).
 *
 * <pre>
 * mvn -q -pl jmh-benchmarks -am package -DskipTests
 * java -cp jmh-benchmarks/target/benchmarks.jar ai.medqa.bench.FineTuneBenchmark \
 *     [steps=6] [batch=1] [maxLen=256] [quantize=none|nf4|int8] [checkpointing=false|true] [data=medqa-finetune/src/test/resources/pubmedqa/pqal_subset.json] \
 *     [tokenizer=medqa-core/src/test/resources/tokenizer/mistral-7b-v0.1]
 * </pre>
 *
 * Prints per step: tokens/s, resident memory (VmRSS) and its high-water mark (VmHWM). The first two
 * steps are warm-up (allocator pools, JIT) and excluded from the mean.
 */
public final class FineTuneBenchmark {
    /** The ~100M-parameter Mistral-shaped model of the engine benchmarks. */
    static final MistralConfig CONFIG = RandomCheckpoint.config(768, 2048, 8, 12, 4, 32000, 2048, 4096);

    private FineTuneBenchmark() {}

    public static void main(String[] args) throws IOException {
        int steps = Integer.parseInt(arg(args, "steps", "6"));
        int batch = Integer.parseInt(arg(args, "batch", "1"));
        int maxLen = Integer.parseInt(arg(args, "maxLen", "256"));
        Quantization quantization = Quantization.parse(arg(args, "quantize", "none"));
        boolean checkpointing = Boolean.parseBoolean(arg(args, "checkpointing", "false"));
        Path data = Path.of(arg(args, "data", "medqa-finetune/src/test/resources/pubmedqa/pqal_subset.json"));
        Path tokenizerDir = Path.of(arg(args, "tokenizer", "medqa-core/src/test/resources/tokenizer/mistral-7b-v0.1"));
        System.setProperty("ai.djl.offline", "true");

        Path dir = Files.createTempDirectory("medqa-finetune-bench");
        Path out = Files.createTempDirectory("medqa-finetune-bench-out");
        long rss0 = status("VmRSS");
        RandomCheckpoint.write(dir, CONFIG, DType.F32, 1);
        List<StepStats> stats = new ArrayList<>();
        List<long[]> memory = new ArrayList<>();
        try (MistralModel model = MistralModel.load(dir, Device.cpu(), DataType.FLOAT32, quantization.linears());
                Tokenizer tok = Tokenizer.load(tokenizerDir)) {
            long rssLoaded = status("VmRSS");
            System.out.printf(
                    Locale.ROOT,
                    "model: %,d parameters, F32 compute, base %s, gradient checkpointing %s;"
                            + " resident %d MiB after load (%d MiB before)%n",
                    CONFIG.parameterCount(),
                    quantization,
                    checkpointing,
                    rssLoaded / 1024,
                    rss0 / 1024);
            FineTuneResult r = FineTune.builder()
                    .model(model)
                    .tokenizer(tok)
                    .data(data)
                    .template(PromptTemplate.instruction().withContexts(true))
                    .output(out)
                    .lora(LoraConfig.of(8, 16, 0.05, List.of("q_proj", "v_proj")))
                    .batchSize(batch)
                    .gradientAccumulation(1)
                    .maxLength(maxLen)
                    .maxSteps(steps)
                    .evalFraction(0)
                    .saveEvery(0)
                    .logEvery(0)
                    .gradientCheckpointing(checkpointing)
                    .onStep(s -> {
                        stats.add(s);
                        memory.add(new long[] {status("VmRSS"), status("VmHWM")});
                    })
                    .build()
                    .run();
            double tokens = 0;
            double seconds = 0;
            for (int i = 0; i < stats.size(); i++) {
                StepStats s = stats.get(i);
                System.out.printf(
                        Locale.ROOT,
                        "step %d: %d tokens, %.0f tokens/s, loss %.3f, RSS %d MiB, peak %d MiB%n",
                        s.step(),
                        s.tokens(),
                        s.tokensPerSecond(),
                        s.loss(),
                        memory.get(i)[0] / 1024,
                        memory.get(i)[1] / 1024);
                if (i >= 2) {
                    tokens += s.tokens();
                    seconds += s.tokens() / s.tokensPerSecond();
                }
            }
            System.out.printf(
                    Locale.ROOT,
                    "mean after warm-up: %.0f tokens/s (batch %d, max-len %d); peak RSS %d MiB"
                            + " (%d MiB above the loaded model); %s%n",
                    tokens / seconds,
                    batch,
                    maxLen,
                    memory.get(memory.size() - 1)[1] / 1024,
                    (memory.get(memory.size() - 1)[1] - rssLoaded) / 1024,
                    r.train());
        }
    }

    static String arg(String[] args, String key, String fallback) {
        for (String a : args) {
            if (a.startsWith(key + "=")) {
                return a.substring(key.length() + 1);
            }
        }
        return fallback;
    }

    /** A {@code /proc/self/status} field in KiB (Linux), or -1. */
    static long status(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
