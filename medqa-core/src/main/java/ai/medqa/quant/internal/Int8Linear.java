package ai.medqa.quant.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import ai.medqa.io.HalfFloat;
import ai.medqa.model.Linear;
import ai.medqa.model.internal.DecoderStep;
import ai.medqa.model.internal.FusedProjection;
import ai.medqa.model.internal.Ops;
import java.nio.ByteBuffer;
import java.util.stream.IntStream;

/**
 * {@code y = x W^T} with W as int8 and one scale per output channel (row): LLM.int8()'s vector-wise
 * quantization without the outlier decomposition, {@code scale = bf16(absmax(row) / 127)},
 * {@code q = round(w / scale)}. Scales are bfloat16 values because PyTorch's int8 kernel takes them
 * so: the weight the kernel multiplies is exactly {@code q * scale}, the one the tests dequantize.
 *
 * <p>Inference runs PyTorch's {@code _weight_int8pack_mm} with bfloat16 activations (bfloat16 GEMMs
 * on bands of the weight for many rows), in the fused step and op by op alike; while gradients are
 * recorded, W is dequantized to the compute dtype with DJL ops and multiplied, so autograd sees the
 * base. Measured and dropped (README "Speed"): the dequantizing product and {@code (x q^T) * scale}
 * as inference kernels.
 */
public final class Int8Linear implements Linear {

    /**
     * One int8 weight.
     *
     * @param shape {@code [out, in]}
     * @param q the codes, row-major
     * @param scale per row: {@code absmax(row) / 127} rounded to bfloat16, so that {@code w ~ q * scale}
     */
    public record Int8Weight(long[] shape, byte[] q, float[] scale) {

        /** Quantizes {@code w [out, in]} (row-major) row by row. */
        public static Int8Weight quantize(float[] w, long out, long in) {
            int rows = Math.toIntExact(out);
            int cols = Math.toIntExact(in);
            byte[] q = new byte[w.length];
            float[] scale = new float[rows];
            // Rows are independent: across the cores (a 7B model's Q6_K tensors load through here).
            IntStream.range(0, rows).parallel().forEach(r -> {
                float max = 0f;
                for (int c = 0; c < cols; c++) {
                    max = Math.max(max, Math.abs(w[r * cols + c]));
                }
                float s = HalfFloat.bf16ToF32(HalfFloat.f32ToBf16(max / 127f));
                for (int c = 0; c < cols; c++) {
                    // torch.round (half to even); the bf16 scale can sit just below absmax / 127: clamp.
                    // A zero row gives NaN codes, which the cast turns into 0.
                    double code = Math.rint(w[r * cols + c] / s);
                    q[r * cols + c] = (byte) Math.max(-127, Math.min(127, code));
                }
                scale[r] = s;
            });
            return new Int8Weight(new long[] {out, in}, q, scale);
        }

        /** The float32 weight, {@code q * scale}, row-major: the reference the tests trust. */
        public float[] dequantize() {
            int cols = Math.toIntExact(shape[1]);
            float[] w = new float[q.length];
            for (int i = 0; i < w.length; i++) {
                w[i] = q[i] * scale[i / cols];
            }
            return w;
        }
    }

    private final long in;
    private final long out;
    private final DataType dtype;
    private final NDArray q; // int8 [out, in]
    private final NDArray scale; // float32 [out, 1], for the gradient path
    private final IValue packedScales; // bfloat16 [out], only TorchScript sees it

    public Int8Linear(Int8Weight w, NDManager manager, DataType dtype) {
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16) {
            throw new IllegalArgumentException("compute dtype must be FLOAT32 or FLOAT16, got " + dtype);
        }
        this.out = w.shape()[0];
        this.in = w.shape()[1];
        this.dtype = dtype;
        ByteBuffer buf = ByteBuffer.allocateDirect(w.q().length).put(w.q()).flip();
        try (NDArray wrapped = manager.create(buf, new Shape(out, in), DataType.INT8)) {
            q = wrapped.duplicate();
        }
        // duplicate() copies: create() may wrap a Java buffer, and toType() to the same dtype aliases it.
        try (NDArray s = manager.create(w.scale());
                NDArray own = s.duplicate()) {
            scale = own.reshape(out, 1);
        }
        try (NDArray row = scale.reshape(out)) {
            packedScales = DecoderStep.bf16(row);
        } catch (RuntimeException e) {
            q.close();
            scale.close();
            throw e;
        }
    }

    @Override
    public long inFeatures() {
        return in;
    }

    @Override
    public long outFeatures() {
        return out;
    }

    /** Bytes held on the device. */
    public long deviceBytes() {
        return q.size() + scale.size() * scale.getDataType().getNumOfBytes() + 2 * out;
    }

    @Override
    public NDArray forward(NDArray x) {
        if (!JniUtils.isGradMode()) {
            return DecoderStep.project(x, fused());
        }
        NDArray w = q.toType(DataType.FLOAT32, false).mul(scale);
        return Ops.linear(x, dtype == DataType.FLOAT32 ? w : w.toType(dtype, false));
    }

    @Override
    public FusedProjection fused() {
        return new FusedProjection.Int8(q, packedScales);
    }

    @Override
    public void close() {
        q.close();
        scale.close();
        packedScales.close();
    }

    @Override
    public String toString() {
        return "Int8Linear[" + out + "x" + in + ", " + dtype + "]";
    }
}
