package ai.medqa.generate;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The plain implementation ({@link Sampler#fullSortBaseline}): each processor of
 * {@link LogitsProcessorChain} on the whole vocabulary, with full sorts, then a softmax and a draw.
 * The reference the fast sampler is tested against, and the benchmark baseline.
 */
final class ReferenceSampler implements Sampler {
    private static final Logger LOG = LoggerFactory.getLogger(ReferenceSampler.class);

    private final GenerationConfig config;
    private final LogitsProcessorChain chain;
    private final long seed;
    private final SplittableRandom random;
    private final boolean greedy;

    ReferenceSampler(GenerationConfig config) {
        this.config = config;
        this.chain = LogitsProcessorChain.of(config);
        this.seed = Sampler.seedOf(config, LOG);
        this.random = new SplittableRandom(seed);
        this.greedy = config.isGreedy();
    }

    @Override
    public GenerationConfig config() {
        return config;
    }

    @Override
    public long seed() {
        return seed;
    }

    @Override
    public int sample(int[] prevIds, int prevLen, float[] x) {
        if (x.length == 0) {
            throw new IllegalArgumentException("empty logits");
        }
        chain.process(prevIds, prevLen, x);
        if (greedy) {
            return Sampler.argmax(x);
        }
        int n = x.length;
        float max = Softmax.max(x, n);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Softmax.exp(x[i], max);
        }
        double target = random.nextDouble() * sum;
        double cum = 0;
        int last = -1;
        for (int i = 0; i < n; i++) {
            float e = Softmax.exp(x[i], max);
            if (e > 0) {
                cum += e;
                last = i;
                if (cum > target) {
                    return i;
                }
            }
        }
        return last; // rounding left target at the very top
    }

    @Override
    public int[] keptIds(int[] prevIds, int prevLen, float[] x) {
        chain.process(prevIds, prevLen, x);
        return IntStream.range(0, x.length)
                .filter(i -> x[i] != Float.NEGATIVE_INFINITY)
                .toArray();
    }
}
