package ai.medqa.generate;

import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;

/**
 * Picks the next token from one row of logits, with Hugging Face's semantics: the processors of
 * {@link LogitsProcessorChain} in generate()'s order, then argmax (greedy; ties go to the lowest id, as
 * {@code torch.argmax}) or one draw from the softmax of what survived.
 *
 * <p><b>Speed.</b> transformers sorts the whole vocabulary for top-p at every token. This sampler gets the
 * same tokens without that sort: after top-k only the k best logits (found with a small heap) take part;
 * without top-k, a heap finds the best few dozen logits, the probability mass of everything else is summed
 * in one pass, and only the candidates are sorted, growing the candidate set when the top-p boundary lies
 * below it. Where torch's tie order would matter (equal logits on both sides of the top-p boundary) it
 * falls back to the full sort of {@link TopPWarper}. {@link #fullSortBaseline} runs the plain processors
 * (full sorts) and is kept as the reference and the benchmark baseline; both give the same token for the
 * same seed. The two are separate classes behind this interface ({@code FastSampler},
 * {@code ReferenceSampler}), and {@code SamplerTest} holds them to the same tokens. The one theoretical difference: without top-k, the mass below the candidates is summed in
 * index order instead of ascending order, which can move a double sum by ~1e-16 relative; it changes a
 * decision only if a cumulative probability falls within that distance of a float32 rounding boundary
 * right at the top-p threshold.
 *
 * <p><b>Randomness.</b> One {@link java.util.SplittableRandom} per sampler, seeded from {@link GenerationConfig#seed()}
 * (or a random seed, logged at debug level so a run can be replayed); one {@code nextDouble()} per sampled
 * token, none for greedy. The same seed gives the same tokens on every JVM, but not the tokens PyTorch gives
 * for that seed: {@code torch.multinomial}'s stream is not reproduced.
 *
 * <p>Not thread-safe: it keeps scratch arrays and its random state. Use one per generation.
 */
public interface Sampler {

    /** The sampler to use (the fast one). */
    static Sampler create(GenerationConfig config) {
        return new FastSampler(config);
    }

    /**
     * The plain implementation: each processor on the whole vocabulary, with full sorts, then a softmax
     * and a draw. Same tokens as {@link #create}; slower. For tests and benchmarks.
     */
    static Sampler fullSortBaseline(GenerationConfig config) {
        return new ReferenceSampler(config);
    }

    GenerationConfig config();

    /** The seed in use: the configured one, or the random one drawn for this sampler. */
    long seed();

    /**
     * The next token id.
     *
     * @param prevIds the prompt and the tokens generated so far (for the repetition penalty); the first
     *                {@code prevLen} count
     * @param logits  one logit per vocabulary id; used as scratch and left modified
     */
    int sample(int[] prevIds, int prevLen, float[] logits);

    /** The ids every processor lets through, ascending (what a draw chooses among); for tests. */
    int[] keptIds(int[] prevIds, int prevLen, float[] logits);

    /** The highest logit, the lowest id on ties ({@code torch.argmax}). */
    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    /** The configured seed, or a random one, logged at debug level so that a run can be replayed. */
    static long seedOf(GenerationConfig config, Logger log) {
        if (config.seed().isPresent()) {
            return config.seed().getAsLong();
        }
        long seed = ThreadLocalRandom.current().nextLong();
        log.debug("sampling with random seed {}", seed);
        return seed;
    }
}
