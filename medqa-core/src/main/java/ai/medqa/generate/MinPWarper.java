package ai.medqa.generate;

/**
 * transformers' {@code MinPLogitsWarper}: drops the tokens whose probability is below
 * {@code min_p * (largest probability)}, the product taken in float32 as torch does. The most probable
 * token always passes (min_p <= 1), which is all that min_tokens_to_keep = 1 asks for; for larger values
 * the most probable tokens are kept, ties going to the lower id.
 */
final class MinPWarper implements LogitsProcessor {
    private final float minP;
    private final int minTokensToKeep;

    MinPWarper(double minP, int minTokensToKeep) {
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("minP must be in [0, 1], got " + minP);
        }
        this.minP = (float) minP;
        this.minTokensToKeep = minTokensToKeep;
    }

    @Override
    public void process(int[] prevIds, int prevLen, float[] logits) {
        int n = logits.length;
        float[] probs = Softmax.probs(logits);
        float top = Softmax.max(probs, n);
        float threshold = minP * top;
        boolean[] keep = new boolean[n];
        for (int k = 0; k < Math.min(minTokensToKeep, n); k++) {
            int best = -1;
            for (int i = 0; i < n; i++) {
                if (!keep[i] && (best < 0 || probs[i] > probs[best])) {
                    best = i;
                }
            }
            keep[best] = true;
        }
        for (int i = 0; i < n; i++) {
            if (!keep[i] && probs[i] < threshold) {
                logits[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }
}
