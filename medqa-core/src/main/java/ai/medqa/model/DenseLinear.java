package ai.medqa.model;

import ai.djl.ndarray.NDArray;

/** A full-precision weight {@code [out, in]} as stored in the checkpoint. */
public final class DenseLinear implements Linear {
    private final NDArray weight;

    /** Takes ownership of {@code weight} ({@code [out, in]}, in the compute dtype). */
    public DenseLinear(NDArray weight) {
        if (weight.getShape().dimension() != 2) {
            throw new IllegalArgumentException("a linear weight is [out, in], got " + weight.getShape());
        }
        this.weight = weight;
    }

    public NDArray weight() {
        return weight;
    }

    @Override
    public long inFeatures() {
        return weight.getShape().get(1);
    }

    @Override
    public long outFeatures() {
        return weight.getShape().get(0);
    }

    @Override
    public NDArray forward(NDArray x) {
        // aten::linear multiplies by W^T without materialising the transpose.
        return x.getNDArrayInternal().linear(x, weight, null).singletonOrThrow();
    }

    @Override
    public FusedProjection fused() {
        return new FusedProjection.Dense(weight);
    }

    @Override
    public void close() {
        weight.close();
    }
}
