package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import ai.medqa.model.internal.DecoderStep;
import ai.medqa.model.internal.FusedProjection;

/**
 * {@code y = x W^T} with W in bfloat16, the projections of {@code Precision.BF16}: the product takes
 * bfloat16 inputs inside TorchScript and returns the caller's dtype, as {@code torch.autocast}
 * computes matrix products, while norms, attention and the residual stream stay float32. DJL 0.36
 * crashes on bfloat16 arrays, so the weight is a TorchScript value DJL never sees.
 *
 * <p>No gradients: adapters train on F32, F16, INT8 or NF4 bases.
 */
public final class Bf16Linear implements Linear {
    private final IValue weight;
    private final long in;
    private final long out;

    /** Converts {@code weight [out, in]} (any float dtype) to bfloat16; the caller still owns {@code weight}. */
    public Bf16Linear(NDArray weight) {
        this.out = weight.getShape().get(0);
        this.in = weight.getShape().get(1);
        this.weight = DecoderStep.bf16(weight);
    }

    /**
     * {@code inner}, with every full-precision projection it makes (including {@code lm_head}, a
     * copy of the embedding when tied) converted to bfloat16 as it loads, so peak memory holds one
     * float32 tensor.
     */
    public static LinearFactory converting(LinearFactory inner) {
        return new LinearFactory() {
            @Override
            public Linear create(String module, long in, long out, Weights weights) {
                Linear l = inner.create(module, in, out, weights);
                if (!(l instanceof DenseLinear d)) {
                    return l;
                }
                try (d) {
                    return new Bf16Linear(d.weight());
                }
            }

            /**
             * A head tied to the embedding becomes a bfloat16 copy of it too (unless {@code inner}
             * quantizes it): the products are bfloat16, the embedding lookup keeps its float32 rows.
             */
            @Override
            public Linear tiedHead(String embedding, long in, long out, Weights weights) {
                Linear own = inner.tiedHead(embedding, in, out, weights);
                if (own != null) {
                    return own;
                }
                try (NDArray w = weights.load(embedding + ".weight", out, in)) {
                    return new Bf16Linear(w);
                }
            }
        };
    }

    @Override
    public long inFeatures() {
        return in;
    }

    @Override
    public long outFeatures() {
        return out;
    }

    @Override
    public NDArray forward(NDArray x) {
        if (JniUtils.isGradMode()) {
            throw new UnsupportedOperationException(
                    "BF16 projections have no gradient path in DJL: train on F32, F16 " + "or a quantized base");
        }
        return DecoderStep.project(x, fused());
    }

    @Override
    public FusedProjection fused() {
        return new FusedProjection.Bf16(weight);
    }

    @Override
    public void close() {
        weight.close();
    }

    @Override
    public String toString() {
        return "Bf16Linear[" + out + "x" + in + "]";
    }
}
