package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** {@code weight * x / sqrt(mean(x^2) + eps)}, computed in float32 as transformers does for F16 models. */
final class RmsNorm implements AutoCloseable {
    private final NDArray weight;
    private final float eps;

    RmsNorm(NDArray weight, double eps) {
        this.weight = weight;
        this.eps = (float) eps;
    }

    NDArray weight() {
        return weight;
    }

    NDArray forward(NDArray x) {
        DataType dtype = x.getDataType();
        NDArray x32 = dtype == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
        NDArray variance = x32.square().mean(new int[] {-1}, true);
        NDArray normed = x32.div(variance.add(eps).sqrt());
        if (dtype != DataType.FLOAT32) {
            normed = normed.toType(dtype, false);
        }
        return normed.mul(weight);
    }

    @Override
    public void close() {
        weight.close();
    }
}
