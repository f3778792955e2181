package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;

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
        if (JniUtils.isGradMode()) {
            // aten::linear multiplies by W^T without materialising the transpose, with a backward.
            return x.getNDArrayInternal().linear(x, weight, null).singletonOrThrow();
        }
        // Inference: the fused step's own product (oneDNN for float32), so both paths agree.
        return DecoderStep.project(x, fused());
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
