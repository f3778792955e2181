package ai.medqa.generate;

import java.util.Arrays;

/**
 * transformers' {@code TopKLogitsWarper}: keeps every logit >= the k-th largest, so ties with the k-th
 * survive and more than k tokens may remain. k is raised to min_tokens_to_keep and capped at the vocabulary.
 */
final class TopKWarper implements LogitsProcessor {
    private final int topK;

    TopKWarper(int topK, int minTokensToKeep) {
        if (topK <= 0) {
            throw new IllegalArgumentException("topK must be > 0 here (0 turns top-k off), got " + topK);
        }
        this.topK = Math.max(topK, minTokensToKeep);
    }

    @Override
    public void process(int[] prevIds, int prevLen, float[] logits) {
        int n = logits.length;
        int k = Math.min(topK, n);
        float[] sorted = logits.clone(); // the plain way: a full sort, the baseline the sampler's heap beats
        Arrays.sort(sorted);
        float kth = sorted[n - k];
        for (int i = 0; i < n; i++) {
            if (logits[i] < kth) {
                logits[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }
}
