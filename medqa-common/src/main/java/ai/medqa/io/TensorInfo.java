package ai.medqa.io;

import java.util.Arrays;

/**
 * One tensor's entry in a safetensors header.
 *
 * @param name the tensor's name, as in the checkpoint (e.g. {@code model.layers.0.mlp.up_proj.weight})
 * @param dtype element type
 * @param shape dimensions, outermost first (row-major); empty for a scalar
 * @param dataBegin first byte, relative to the start of the file's data section (as in the header)
 * @param dataEnd one past the last byte, relative to the start of the data section
 */
public record TensorInfo(String name, DType dtype, long[] shape, long dataBegin, long dataEnd) {

    public TensorInfo {
        shape = shape.clone(); // a record with an array is only immutable if it copies it
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements: the product of the dimensions, 1 for a scalar. */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Bytes the tensor occupies in the file. */
    public long byteLength() {
        return dataEnd - dataBegin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t
                && name.equals(t.name)
                && dtype == t.dtype
                && Arrays.equals(shape, t.shape)
                && dataBegin == t.dataBegin
                && dataEnd == t.dataEnd;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * name.hashCode() + dtype.hashCode()) + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @[" + dataBegin + ", " + dataEnd + ")";
    }
}
