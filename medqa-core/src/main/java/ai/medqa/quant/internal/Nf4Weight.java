package ai.medqa.quant.internal;

import java.util.Arrays;

/**
 * One NF4-quantized weight as bitsandbytes stores it: the packed codes and its quant state.
 *
 * @param shape the original shape, e.g. {@code [out, in]}
 * @param blockSize weights per absmax block (64)
 * @param packed two 4-bit codes per byte, the even element in the high nibble
 * @param quantMap the 16 code values ({@code weight.quant_map})
 * @param absmax one float32 per block, or null when {@code nested} holds them 8-bit
 * @param nested the double-quantized absmax, or null
 * @param dtype torch dtype name of the original tensor, recorded in the quant state
 */
public record Nf4Weight(
        long[] shape, int blockSize, byte[] packed, float[] quantMap, float[] absmax, Nested nested, String dtype) {

    /**
     * Absmax values quantized 8-bit: {@code absmax[i] = quantMap[q[i]] * nestedAbsmax[i / blockSize] + offset}.
     *
     * @param q one byte per absmax block ({@code weight.absmax}, uint8)
     * @param absmax one float32 per nested block ({@code weight.nested_absmax})
     * @param quantMap the 256-value dynamic map ({@code weight.nested_quant_map})
     * @param blockSize absmax values per nested block (256)
     * @param offset the mean subtracted before quantizing ({@code nested_offset})
     */
    public record Nested(byte[] q, float[] absmax, float[] quantMap, int blockSize, float offset) {
        public Nested {
            if (quantMap.length != 256) {
                throw new IllegalArgumentException("the nested quant map has 256 values, got " + quantMap.length);
            }
            if ((long) absmax.length * blockSize < q.length) {
                throw new IllegalArgumentException(absmax.length + " nested absmax values of blocks of " + blockSize
                        + " cannot cover " + q.length + " absmax values");
            }
        }
    }

    public Nf4Weight {
        shape = shape.clone();
        long n = Nf4.numel(shape);
        if (quantMap.length != 16) {
            throw new IllegalArgumentException("an NF4 quant map has 16 values, got " + quantMap.length);
        }
        if (packed.length != (n + 1) / 2) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + (n + 1) / 2
                    + " packed bytes, got " + packed.length);
        }
        if ((absmax == null) == (nested == null)) {
            throw new IllegalArgumentException("exactly one of absmax and nested must be given");
        }
        long blocks = (n + blockSize - 1) / blockSize;
        long have = absmax != null ? absmax.length : nested.q().length;
        if (have != blocks) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " in blocks of " + blockSize
                    + " needs " + blocks + " absmax values, got " + have);
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long numel() {
        return Nf4.numel(shape);
    }

    public int blocks() {
        return absmax != null ? absmax.length : nested.q().length;
    }

    /**
     * The float32 absmax of every block; for a nested state computed as bitsandbytes'
     * {@code dequantize_blockwise} does ({@code code[q] * absmax2}, then {@code + offset}).
     */
    public float[] blockAbsmax() {
        if (absmax != null) {
            return absmax.clone();
        }
        float[] out = new float[nested.q().length];
        for (int i = 0; i < out.length; i++) {
            float scaled = nested.quantMap()[nested.q()[i] & 0xFF] * nested.absmax()[i / nested.blockSize()];
            out[i] = scaled + nested.offset();
        }
        return out;
    }

    /** Bytes of the format itself: packed codes, absmax (8- or 32-bit), nested absmax and both maps. */
    public long storageBytes() {
        long bytes = packed.length + 4L * quantMap.length;
        if (absmax != null) {
            return bytes + 4L * absmax.length;
        }
        return bytes + nested.q().length + 4L * nested.absmax().length + 4L * nested.quantMap().length + 4;
    }

    /** Bit-for-bit equality of every array and field. */
    public boolean sameAs(Nf4Weight o) {
        return Arrays.equals(shape, o.shape)
                && blockSize == o.blockSize
                && Arrays.equals(packed, o.packed)
                && Arrays.equals(quantMap, o.quantMap)
                && Arrays.equals(absmax, o.absmax)
                && dtype.equals(o.dtype)
                && (nested == null
                        ? o.nested == null
                        : o.nested != null
                                && Arrays.equals(nested.q, o.nested.q)
                                && Arrays.equals(nested.absmax, o.nested.absmax)
                                && Arrays.equals(nested.quantMap, o.nested.quantMap)
                                && nested.blockSize == o.nested.blockSize
                                && Float.floatToRawIntBits(nested.offset) == Float.floatToRawIntBits(o.nested.offset));
    }

    @Override
    public String toString() {
        return "Nf4Weight" + Arrays.toString(shape) + (nested != null ? " double-quantized" : "");
    }
}
