package ai.medqa.finetune;

import java.util.Arrays;
import java.util.List;

/**
 * Rows padded on the right to the longest, with Hugging Face labels: the token id where the loss
 * counts, {@link #IGNORE} on the prompt and on padding. Right padding needs no attention mask for a
 * causal model: a real token never attends to the padding after it, and padded positions carry no loss.
 */
record Batch(int rows, int length, long[] ids, int[] labels, int tokens, int targets) {
    /** {@code ignore_index} of PyTorch's cross-entropy, the value transformers puts on masked labels. */
    static final int IGNORE = -100;

    static Batch of(List<TokenizedExample> examples, int padId) {
        int b = examples.size();
        int t = examples.stream().mapToInt(e -> e.ids().length).max().orElseThrow();
        long[] ids = new long[b * t];
        int[] labels = new int[b * t];
        Arrays.fill(ids, padId);
        Arrays.fill(labels, IGNORE);
        int tokens = 0;
        int targets = 0;
        for (int r = 0; r < b; r++) {
            TokenizedExample e = examples.get(r);
            for (int i = 0; i < e.ids().length; i++) {
                ids[r * t + i] = e.ids()[i];
                if (i >= e.promptLength()) {
                    labels[r * t + i] = e.ids()[i];
                }
            }
            tokens += e.ids().length;
            targets += e.targets();
        }
        return new Batch(b, t, ids, labels, tokens, targets);
    }

    /** One row with explicit labels (the golden step's {@code labels}). */
    static Batch single(int[] ids, int[] labels) {
        long[] l = new long[ids.length];
        int targets = 0;
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
            // Position 0 is never a target: nothing predicts it.
            targets += i > 0 && labels[i] != IGNORE ? 1 : 0;
        }
        return new Batch(1, ids.length, l, labels.clone(), ids.length, targets);
    }
}
