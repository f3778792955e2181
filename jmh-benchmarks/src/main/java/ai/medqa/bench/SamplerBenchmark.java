package ai.medqa.bench;

import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.Sampler;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One sampling step over a Mistral-sized vocabulary (32,000): repetition penalty 1.2 over a 512-token
 * history, temperature 0.7, top-p 0.9, with top-k off ({@code topK=0}) or at transformers' default 50.
 * {@code fast} is {@link Sampler#create}, {@code fullSort} the plain processors (a full sort per token,
 * as transformers does), measured in the same run. Logits: normal(0, 2.5) plus a few peaked entries, as
 * float32 ({@code f32}) or rounded to bf16 as a bf16 checkpoint gives them ({@code bf16}, many ties).
 * The time includes copying the 32,000 logits (the sampler overwrites them), which is ~2 us.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class SamplerBenchmark {
    private static final int VOCAB = 32_000;
    private static final int ROWS = 64;

    @Param({"fast", "fullSort"})
    public String impl;

    @Param({"0", "50"})
    public int topK;

    @Param({"f32", "bf16"})
    public String logits;

    private float[][] rows;
    private float[] scratch;
    private int[] history;
    private Sampler sampler;
    private int next;

    @Setup
    public void setup() {
        SplittableRandom r = new SplittableRandom(42);
        rows = new float[ROWS][VOCAB];
        for (float[] row : rows) {
            for (int i = 0; i < VOCAB; i++) {
                row[i] = (float) (gaussian(r) * 2.5);
            }
            int peaks = 1 + r.nextInt(5);
            for (int p = 0; p < peaks; p++) {
                row[r.nextInt(VOCAB)] += 8 + 6 * r.nextDouble();
            }
            if (logits.equals("bf16")) {
                for (int i = 0; i < VOCAB; i++) {
                    row[i] = Float.intBitsToFloat(Float.floatToIntBits(row[i]) & 0xffff0000);
                }
            }
        }
        history = new int[512];
        for (int i = 0; i < history.length; i++) {
            history[i] = r.nextInt(VOCAB);
        }
        scratch = new float[VOCAB];
        GenerationConfig config = GenerationConfig.builder()
                .doSample(true)
                .temperature(0.7)
                .topK(topK)
                .topP(0.9)
                .repetitionPenalty(1.2)
                .seed(7)
                .build();
        sampler = impl.equals("fast") ? Sampler.create(config) : Sampler.fullSortBaseline(config);
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    @Benchmark
    public int sampleToken() {
        float[] row = rows[next++ & (ROWS - 1)];
        System.arraycopy(row, 0, scratch, 0, VOCAB);
        return sampler.sample(history, history.length, scratch);
    }
}
