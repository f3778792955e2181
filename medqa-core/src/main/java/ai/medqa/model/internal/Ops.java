package ai.medqa.model.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.SparseFormat;

/**
 * The differentiable DJL operations that {@code NDArray} itself does not offer (they sit behind
 * DJL's {@code getNDArrayInternal()}, an engine-facing interface): one place to reach them, so that a
 * change of DJL touches one class. Each result belongs to its input's manager and records gradients
 * when autograd is on.
 */
public final class Ops {
    private Ops() {}

    /** {@code x W^T} ({@code aten::linear}): no transposed copy of {@code w}, with a backward. */
    public static NDArray linear(NDArray x, NDArray w) {
        return x.getNDArrayInternal().linear(x, w, null).singletonOrThrow();
    }

    /** Rows {@code ids} of {@code table} ({@code aten::embedding}). */
    public static NDArray embedding(NDArray ids, NDArray table) {
        return ids.getNDArrayInternal()
                .embedding(ids, table, SparseFormat.DENSE)
                .singletonOrThrow();
    }

    /** Inverted dropout with probability {@code p}, as in training. */
    public static NDArray dropout(NDArray x, float p) {
        return x.getNDArrayInternal().dropout(x, p, true).singletonOrThrow();
    }
}
