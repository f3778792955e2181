package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.medqa.model.internal.Ops;

/**
 * Rotary position embedding in the rotate-half layout of Hugging Face checkpoints (q/k weights are
 * permuted so each head's first half pairs with its second half, not adjacent elements).
 *
 * <p>The cos/sin tables are computed once with float32 arithmetic step by step as transformers does
 * ({@code inv_freq = 1 / theta^(2i/d)}, {@code angle = pos * inv_freq}), so long-context angles carry
 * the same rounding as the Python reference.
 */
final class Rope implements AutoCloseable {
    private final NDArray cos; // [max_position_embeddings, head_dim]
    private final NDArray sin;
    private final int half;

    Rope(NDManager manager, MistralConfig config, DataType dtype) {
        int dim = config.headDim();
        int positions = config.maxPositionEmbeddings();
        half = dim / 2;
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / (float) dim;
            invFreq[i] = 1.0f / (float) Math.pow(config.ropeTheta(), exponent);
        }
        float[] c = new float[positions * dim];
        float[] s = new float[positions * dim];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) p * invFreq[i];
                float ci = (float) Math.cos(angle);
                float si = (float) Math.sin(angle);
                c[p * dim + i] = ci;
                c[p * dim + i + half] = ci;
                s[p * dim + i] = si;
                s[p * dim + i + half] = si;
            }
        }
        Shape shape = new Shape(positions, dim);
        cos = manager.create(c, shape).toType(dtype, false);
        sin = manager.create(s, shape).toType(dtype, false);
    }

    /** {@code cos} per position, {@code [max_position_embeddings, head_dim]} in the compute dtype. */
    NDArray cosTable() {
        return cos;
    }

    NDArray sinTable() {
        return sin;
    }

    /** Rows of the tables for {@code positionIds [B, T]}: two arrays {@code [B, 1, T, head_dim]}. */
    NDList lookup(NDArray positionIds) {
        NDArray c = Ops.embedding(positionIds, cos);
        NDArray s = Ops.embedding(positionIds, sin);
        return new NDList(c.expandDims(1), s.expandDims(1));
    }

    /** {@code x * cos + rotate_half(x) * sin} for {@code x [B, heads, T, head_dim]}. */
    NDArray apply(NDArray x, NDList cosSin) {
        NDArray x1 = x.get(new NDIndex("..., :{}", half));
        NDArray x2 = x.get(new NDIndex("..., {}:", half));
        NDArray rotated = x2.neg().concat(x1, -1);
        return x.mul(cosSin.get(0)).add(rotated.mul(cosSin.get(1)));
    }

    @Override
    public void close() {
        cos.close();
        sin.close();
    }
}
