package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import ai.medqa.model.internal.DecoderStep;
import ai.medqa.model.internal.FusedProjection;
import ai.medqa.model.internal.Ops;

/** A full-precision weight {@code [out, in]} as stored in the checkpoint. */
public final class DenseLinear implements Linear {
    private final NDArray weight;
    private final boolean bf16ManyRows;

    /** Takes ownership of {@code weight} ({@code [out, in]}, in the compute dtype). */
    public DenseLinear(NDArray weight) {
        this(weight, false);
    }

    private DenseLinear(NDArray weight, boolean bf16ManyRows) {
        if (weight.getShape().dimension() != 2) {
            throw new IllegalArgumentException("a linear weight is [out, in], got " + weight.getShape());
        }
        this.weight = weight;
        this.bf16ManyRows = bf16ManyRows;
    }

    /**
     * {@code inner}, with every float32 dense projection it makes taking bfloat16 GEMMs for products
     * of many rows ({@link MatmulPrecision#MEDIUM}); other projections as {@code inner} makes them.
     */
    public static LinearFactory withMatmulPrecision(LinearFactory inner, MatmulPrecision precision) {
        if (precision == MatmulPrecision.HIGHEST) {
            return inner;
        }
        return new LinearFactory() {
            @Override
            public Linear create(String module, long in, long out, Weights weights) {
                Linear l = inner.create(module, in, out, weights);
                return l instanceof DenseLinear d && d.weight.getDataType() == DataType.FLOAT32
                        ? new DenseLinear(d.weight, true)
                        : l; // the weight changes hands: d is not closed
            }

            @Override
            public Linear tiedHead(String embedding, long in, long out, Weights weights) {
                return inner.tiedHead(embedding, in, out, weights);
            }
        };
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
            return Ops.linear(x, weight);
        }
        // Inference: the fused step's own product (oneDNN for float32), so both paths agree.
        return DecoderStep.project(x, fused());
    }

    @Override
    public FusedProjection fused() {
        return new FusedProjection.Dense(weight, bf16ManyRows);
    }

    @Override
    public void close() {
        weight.close();
    }
}
