package ai.medqa.finetune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * transformers' causal-LM loss: logits at position t predict the label at t + 1, cross-entropy in
 * float32 over the positions whose label is not {@link Batch#IGNORE}.
 *
 * <p>Returns the <em>sum</em> over targets; the caller divides by the number of targets of the whole
 * optimizer step (all accumulated micro-batches), so that accumulating k micro-batches gives the
 * gradient of one batch k times larger, as transformers' Trainer does since 4.46
 * ({@code num_items_in_batch}). For a single batch it is {@code F.cross_entropy(..., ignore_index=-100)}.
 */
final class CausalLmLoss {
    private CausalLmLoss() {}

    /** {@code logits [B, T, V]} float32; a scalar array, recorded for autograd. */
    static NDArray sum(NDArray logits, Batch batch) {
        int t = batch.length();
        if (t < 2) {
            throw new IllegalArgumentException("a causal-LM batch needs at least 2 positions, got " + t);
        }
        return labelLogps(logits, batch).sum().neg();
    }

    /**
     * The log-probability each position gives the next position's label ({@code logits [B, T, V]}
     * float32, position t predicting label t + 1), 0 where that label is {@link Batch#IGNORE}:
     * {@code [B, T - 1]}, recorded for autograd. The loss sums it; preference objectives sum it per row.
     */
    static NDArray labelLogps(NDArray logits, Batch batch) {
        int b = batch.rows();
        int t = batch.length();
        long[] target = new long[b * (t - 1)];
        float[] mask = new float[b * (t - 1)];
        for (int r = 0; r < b; r++) {
            for (int i = 0; i < t - 1; i++) {
                int label = batch.labels()[r * t + i + 1];
                if (label != Batch.IGNORE) {
                    target[r * (t - 1) + i] = label;
                    mask[r * (t - 1) + i] = 1f;
                }
            }
        }
        NDManager m = logits.getManager();
        NDArray logp = logits.get(new NDIndex(":, :-1, :")).logSoftmax(-1);
        NDArray idx = m.create(target, new Shape(b, t - 1, 1)).toDevice(logits.getDevice(), false);
        NDArray picked = logp.gather(idx, 2).reshape(b, t - 1);
        NDArray weights = m.create(mask, new Shape(b, t - 1)).toDevice(logits.getDevice(), false);
        return picked.mul(weights);
    }

    /**
     * {@code x * factor} for a recorded graph. Not {@code x.mul(factor)}: DJL turns a Java number into a
     * scalar tensor over Java-owned memory and closes it at once, but autograd keeps that tensor for
     * the backward pass; after a garbage collection the backward reads freed memory (gradients of
     * -777 in a probe). This scalar belongs to the caller's {@code NDScope} and lives until it closes.
     */
    static NDArray scale(NDArray x, double factor) {
        NDArray s = x.getManager().create((float) factor).toDevice(x.getDevice(), false);
        return x.mul(s);
    }
}
