package ai.medqa.generate;

/**
 * transformers' {@code TopPLogitsWarper}: sort the logits ascending, take the cumulative softmax, drop
 * the tokens whose cumulative probability is {@code <= 1 - top_p}, never the last min_tokens_to_keep.
 *
 * <p>Exactly as torch: the threshold {@code 1 - top_p} is computed in double and compared as float32;
 * the cumulative sum is accumulated in double (torch's CPU cumsum uses a double accumulator for float)
 * and rounded to float32 at each step; equal logits are ordered as torch's sort leaves them
 * ({@link TorchSort}), which decides which of several tied tokens at the boundary survive.
 */
final class TopPWarper implements LogitsProcessor {
    private final float threshold;
    private final int minTokensToKeep;

    TopPWarper(double topP, int minTokensToKeep) {
        if (!(topP >= 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in [0, 1], got " + topP);
        }
        this.threshold = threshold(topP);
        this.minTokensToKeep = minTokensToKeep;
    }

    /** {@code 1 - top_p} in double, as Python computes it, then float32 as torch compares it. */
    static float threshold(double topP) {
        return (float) (1.0 - topP);
    }

    @Override
    public void process(int[] prevIds, int prevLen, float[] logits) {
        filter(logits, Softmax.probs(logits), threshold, minTokensToKeep);
    }

    /** The filtering itself, given {@code probs = softmax(logits)} (the fast sampler has them already). */
    static void filter(float[] logits, float[] probs, float threshold, int minTokensToKeep) {
        int n = logits.length;
        float[] sorted = logits.clone();
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = i;
        }
        TorchSort.sortAscending(sorted, ids, n);
        double cum = 0;
        for (int i = 0; i < n - minTokensToKeep; i++) {
            cum += probs[ids[i]];
            if ((float) cum > threshold) {
                break; // the cumulative sum only grows: everything above is kept
            }
            logits[ids[i]] = Float.NEGATIVE_INFINITY;
        }
    }
}
