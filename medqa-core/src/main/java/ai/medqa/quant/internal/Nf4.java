package ai.medqa.quant.internal;

import java.util.Arrays;

/**
 * 4-bit NormalFloat (NF4) quantization exactly as bitsandbytes does it, in plain Java.
 *
 * <p>A weight {@code [out, in]} is flattened row-major and cut into blocks of {@value #BLOCK_SIZE}.
 * Each block keeps its absolute maximum (float32) and, per element, the index of the nearest of the
 * 16 NF4 code values to {@code x * (1 / absmax)}. Two indices share a byte, the element with the
 * even index in the high nibble ({@code q[0::2] << 4 | q[1::2]}). With double quantization the
 * absmax values themselves are stored 8-bit: their mean is subtracted and the rest quantized in
 * blocks of {@value #NESTED_BLOCK_SIZE} with bitsandbytes' signed dynamic map, each block keeping
 * its own float32 absmax.
 *
 * <p>This class is also the reference dequantizer the tests trust: plain loops, float32 arithmetic
 * in the same order as bitsandbytes' kernels, independent of the DJL kernels in {@link Nf4Linear}.
 */
public final class Nf4 {
    public static final int BLOCK_SIZE = 64;
    public static final int NESTED_BLOCK_SIZE = 256;

    /** {@code get_4bit_type("nf4")} in bitsandbytes/functional.py (normal quantiles scaled to [-1, 1]). */
    private static final float[] CODE = {
        -1.0f,
        -0.6961928009986877f,
        -0.5250730514526367f,
        -0.39491748809814453f,
        -0.28444138169288635f,
        -0.18477343022823334f,
        -0.09105003625154495f,
        0.0f,
        0.07958029955625534f,
        0.16093020141124725f,
        0.24611230194568634f,
        0.33791524171829224f,
        0.44070982933044434f,
        0.5626170039176941f,
        0.7229568362236023f,
        1.0f,
    };

    private static final float[] DYNAMIC_MAP = createDynamicMap();

    private Nf4() {}

    /** The 16 NF4 code values, ascending; index = the 4-bit code. */
    public static float[] codes() {
        return CODE.clone();
    }

    /** bitsandbytes' {@code create_dynamic_map(signed=True)}: the 256-value 8-bit map for the nested absmax. */
    public static float[] dynamicMap() {
        return DYNAMIC_MAP.clone();
    }

    /**
     * The NF4 index for a value already scaled to [-1, 1]: bitsandbytes' {@code dQuantizeNF4}
     * decision tree (csrc/kernels.cu), whose thresholds are the midpoints between adjacent codes as
     * float literals. A value exactly on a threshold goes to the lower code; NaN (an all-zero block,
     * where 0 * (1/0) is NaN) fails every comparison and gets code 0, as on the GPU.
     */
    static int quantize(float x) {
        if (x > 0.03979014977812767f) {
            if (x > 0.3893125355243683f) {
                if (x > 0.6427869200706482f) {
                    return x > 0.8614784181118011f ? 15 : 14;
                }
                return x > 0.5016634166240692f ? 13 : 12;
            }
            if (x > 0.2035212516784668f) {
                return x > 0.2920137718319893f ? 11 : 10;
            }
            return x > 0.1202552504837513f ? 9 : 8;
        }
        if (x > -0.33967943489551544f) {
            if (x > -0.13791173323988914f) {
                return x > -0.045525018125772476f ? 7 : 6;
            }
            return x > -0.23460740596055984f ? 5 : 4;
        }
        if (x > -0.6106329262256622f) {
            return x > -0.4599952697753906f ? 3 : 2;
        }
        return x > -0.8480964004993439f ? 1 : 0;
    }

    /**
     * The index of the nearest value of a sorted 256-entry {@code code} to {@code x}: bitsandbytes'
     * {@code dQuantize<0>} (a 7-step binary search from index 127, then the nearer of the two
     * neighbours by their float midpoint), which {@code quantize_blockwise} uses on the GPU.
     */
    static int quantize8(float[] code, float x) {
        int pivot = 127;
        int upperPivot = 255;
        int lowerPivot = 0;
        float lower = -1.0f;
        float upper = 1.0f;
        float val = code[pivot];
        for (int i = 64; i > 0; i >>= 1) {
            if (x > val) {
                lowerPivot = pivot;
                lower = val;
                pivot += i;
            } else {
                upperPivot = pivot;
                upper = val;
                pivot -= i;
            }
            val = code[pivot];
        }
        if (upperPivot == 255) {
            upper = code[upperPivot];
        }
        if (lowerPivot == 0) {
            lower = code[lowerPivot];
        }
        if (x > val) {
            float midpoint = (upper + val) * 0.5f;
            return x > midpoint ? upperPivot : pivot;
        }
        float midpoint = (lower + val) * 0.5f;
        return x < midpoint ? lowerPivot : pivot;
    }

    /**
     * Quantizes {@code weight} (row-major, {@code shape}) to NF4 with blocks of 64.
     *
     * @param doubleQuant also quantize the absmax values (bitsandbytes' {@code compress_statistics})
     * @param dtype the torch dtype name of the original tensor ("bfloat16", "float16", "float32"),
     *     recorded in the quant state as bitsandbytes does
     */
    public static Nf4Weight quantize(float[] weight, long[] shape, boolean doubleQuant, String dtype) {
        int n = weight.length;
        if (numel(shape) != n) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + n + " values");
        }
        int blocks = (n + BLOCK_SIZE - 1) / BLOCK_SIZE;
        float[] absmax = new float[blocks];
        byte[] packed = new byte[(n + 1) / 2];
        int[] q = new int[BLOCK_SIZE];
        for (int b = 0; b < blocks; b++) {
            int from = b * BLOCK_SIZE;
            int to = Math.min(n, from + BLOCK_SIZE);
            float max = 0f;
            for (int i = from; i < to; i++) {
                max = Math.max(max, Math.abs(weight[i]));
            }
            absmax[b] = max;
            float inv = 1.0f / max; // the kernels multiply by the reciprocal, they do not divide
            for (int i = from; i < to; i++) {
                q[i - from] = quantize(weight[i] * inv);
            }
            for (int i = from; i < to; i++) {
                int code = q[i - from];
                if ((i & 1) == 0) {
                    packed[i >> 1] = (byte) (code << 4);
                } else {
                    packed[i >> 1] |= (byte) code;
                }
            }
            if (to == n && (n & 1) == 1) {
                packed[n >> 1] |= (byte) quantize(0f); // an odd count is padded with a zero, as bitsandbytes does
            }
        }
        if (!doubleQuant) {
            return new Nf4Weight(shape, BLOCK_SIZE, packed, CODE.clone(), absmax, null, dtype);
        }
        return new Nf4Weight(shape, BLOCK_SIZE, packed, CODE.clone(), null, quantizeAbsmax(absmax), dtype);
    }

    /** {@code quantize_blockwise(absmax - absmax.mean(), blocksize=256)} with the dynamic map. */
    static Nf4Weight.Nested quantizeAbsmax(float[] absmax) {
        return quantizeAbsmax(absmax, mean(absmax));
    }

    static Nf4Weight.Nested quantizeAbsmax(float[] absmax, float offset) {
        int n = absmax.length;
        int blocks = (n + NESTED_BLOCK_SIZE - 1) / NESTED_BLOCK_SIZE;
        float[] nestedAbsmax = new float[blocks];
        byte[] q = new byte[n];
        for (int b = 0; b < blocks; b++) {
            int from = b * NESTED_BLOCK_SIZE;
            int to = Math.min(n, from + NESTED_BLOCK_SIZE);
            float max = 0f;
            for (int i = from; i < to; i++) {
                max = Math.max(max, Math.abs(absmax[i] - offset));
            }
            nestedAbsmax[b] = max;
            float inv = 1.0f / max;
            for (int i = from; i < to; i++) {
                q[i] = (byte) quantize8(DYNAMIC_MAP, (absmax[i] - offset) * inv);
            }
        }
        return new Nf4Weight.Nested(q, nestedAbsmax, DYNAMIC_MAP.clone(), NESTED_BLOCK_SIZE, offset);
    }

    /**
     * The mean of the absmax values, summed in double and rounded once. torch's float32
     * {@code mean()} sums in a vectorised cascade and may differ in the last bit; the offset is
     * stored in the checkpoint, so readers always use the value that was written.
     */
    private static float mean(float[] v) {
        double sum = 0;
        for (float x : v) {
            sum += x;
        }
        return (float) (sum / v.length);
    }

    /** The float32 weight, row-major, as bitsandbytes' {@code dequantize_4bit} computes it. */
    public static float[] dequantize(Nf4Weight w) {
        int n = Math.toIntExact(w.numel());
        float[] absmax = w.blockAbsmax();
        float[] code = w.quantMap();
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            int b = w.packed()[i >> 1] & 0xFF;
            int q = (i & 1) == 0 ? b >>> 4 : b & 0x0F;
            out[i] = code[q] * absmax[i / w.blockSize()];
        }
        return out;
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /**
     * {@code create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)} recomputed in float32
     * the way torch does it ({@code linspace} fills the first half from the start and the second half
     * from the end, with fused multiply-adds); the test checks all 256 values against torch's own
     * result. A checkpoint carries its map ({@code nested_quant_map}), so readers never depend on this.
     */
    private static float[] createDynamicMap() {
        float[] data = new float[256];
        int k = 0;
        int maxExponentBits = 7;
        int nonSignBits = 7;
        for (int i = 0; i < maxExponentBits; i++) {
            int fractionItems = (1 << (i + nonSignBits - maxExponentBits)) + 1;
            float[] boundaries = linspace(0.1f, 1f, fractionItems);
            float scale = (float) Math.pow(10, -(maxExponentBits - 1) + i);
            for (int j = 0; j + 1 < fractionItems; j++) {
                float mean = (boundaries[j] + boundaries[j + 1]) / 2.0f;
                data[k++] = scale * mean;
                data[k++] = -scale * mean;
            }
        }
        data[k++] = 0f;
        data[k++] = 1.0f;
        // 7 exponent ranges hold 2 * (1 + 2 + ... + 64) = 254 values; with 0 and 1 that is all 256.
        if (k != 256) {
            throw new AssertionError(k);
        }
        Arrays.sort(data);
        return data;
    }

    private static float[] linspace(float start, float end, int steps) {
        float[] out = new float[steps];
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++) {
            // torch's CPU kernel compiles start + step * i to a fused multiply-add (one rounding).
            out[i] = i < halfway ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (steps - i - 1), end);
        }
        return out;
    }
}
