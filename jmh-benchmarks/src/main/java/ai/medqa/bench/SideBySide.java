package ai.medqa.bench;

import ai.djl.ndarray.NDScope;
import ai.medqa.model.KvCache;
import ai.medqa.model.MistralModel;
import java.nio.file.Path;

/**
 * The MedQA side of a side-by-side run with llama.cpp ({@code shared/notes/side-by-side.md}) on a
 * model folder: load, one warm-up round, then {@code rounds} rounds of {@code steps} single-token
 * decode steps after a 16-token prompt and one 400-token prefill; prints the best decode and prefill
 * tokens per second (llama-bench's tg and pp). Not a JMH benchmark: it times whole steps of a real
 * checkpoint, as llama-bench does.
 *
 * <pre>
 * java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=2 -cp jmh-benchmarks/target/benchmarks.jar \
 *     ai.medqa.bench.SideBySide DIR INT4+HEAD4 [steps=64] [rounds=3]
 * </pre>
 *
 * FORMAT: {@link EngineBenchmark}'s names ({@code F32}, {@code F16}, {@code BF16}, {@code INT8},
 * {@code INT4}, {@code NF4}, with {@code +HEAD8} / {@code +HEAD4} for an int8 / int4 {@code lm_head});
 * a MedQA INT4/INT8 checkpoint loads as stored.
 */
public final class SideBySide {
    private SideBySide() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: SideBySide DIR FORMAT [steps] [rounds]");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        String format = args[1];
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        long t0 = System.nanoTime();
        try (MistralModel m = EngineBenchmark.load(dir, format)) {
            System.out.printf("load %.1f s%n", (System.nanoTime() - t0) / 1e9);
            int vocab = m.config().vocabSize();
            int[] prompt = new int[16];
            int[] longPrompt = new int[400];
            for (int i = 0; i < longPrompt.length; i++) {
                longPrompt[i] = 1 + (i * 37) % (vocab - 1);
            }
            System.arraycopy(longPrompt, 0, prompt, 0, prompt.length);
            double decode = 0;
            double prefill = 0;
            try (KvCache c = m.newCache(prompt.length + steps + 1);
                    KvCache lc = m.newCache(longPrompt.length)) {
                for (int r = 0; r <= rounds; r++) {
                    c.reset();
                    int[][] feed = {prompt};
                    long s0 = 0;
                    for (int s = 0; s <= steps; s++) {
                        if (s == 1) {
                            s0 = System.nanoTime(); // after the prompt's prefill
                        }
                        try (NDScope scope = new NDScope()) {
                            scope.suppressNotUsedWarning();
                            m.forward(feed, c, false).toFloatArray();
                        }
                        feed = new int[][] {{1 + s}};
                    }
                    double d = steps / ((System.nanoTime() - s0) / 1e9);
                    lc.reset();
                    long p0 = System.nanoTime();
                    try (NDScope scope = new NDScope()) {
                        scope.suppressNotUsedWarning();
                        m.forward(new int[][] {longPrompt}, lc, false).toFloatArray();
                    }
                    double p = longPrompt.length / ((System.nanoTime() - p0) / 1e9);
                    if (r > 0) { // round 0 warms up (TorchScript profiling runs, oneDNN primitives)
                        decode = Math.max(decode, d);
                        prefill = Math.max(prefill, p);
                    }
                }
            }
            System.out.printf(
                    "%s %s: decode %.1f tok/s, prefill 400 %.0f tok/s (best of %d rounds)%n",
                    dir.getFileName(), format, decode, prefill, rounds);
        }
    }
}
