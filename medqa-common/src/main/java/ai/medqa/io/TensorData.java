package ai.medqa.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A tensor to write: dtype, shape and its bytes, little-endian, row-major, from the buffer's
 * position to its limit. The buffer is not consumed (the writer reads a duplicate).
 */
public record TensorData(DType dtype, long[] shape, ByteBuffer data) {

    public TensorData {
        shape = shape.clone();
        long numel = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            numel = Math.multiplyExact(numel, d);
        }
        long needed = Math.multiplyExact(numel, dtype.byteSize());
        if (data.remaining() != needed) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " x " + dtype + " needs " + needed
                    + " bytes, the buffer has " + data.remaining());
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /**
     * Float values stored as {@code dtype} (F32, F16 or BF16; the 16-bit ones round to nearest even).
     */
    public static TensorData ofFloats(DType dtype, long[] shape, float[] values) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case F32 -> buf.putFloat(v);
                case F16 -> buf.putShort(HalfFloat.f32ToF16(v));
                case BF16 -> buf.putShort(HalfFloat.f32ToBf16(v));
                default -> throw new IllegalArgumentException("ofFloats writes F32, F16 or BF16, not " + dtype);
            }
        }
        return new TensorData(dtype, shape, buf.flip());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorData t && dtype == t.dtype && Arrays.equals(shape, t.shape) && data.equals(t.data);
    }

    @Override
    public int hashCode() {
        return 31 * dtype.hashCode() + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return "TensorData[" + dtype + Arrays.toString(shape) + ", " + data.remaining() + " bytes]";
    }
}
