package ai.medqa.quant.internal;

import ai.medqa.io.HalfFloat;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * A weight {@code [out, in]} in group-wise asymmetric int4, the weight-only format of gpt-fast and
 * torchao that PyTorch's packed int4 kernels multiply: each row is cut into groups of
 * {@code groupSize} inputs, and each group stores a bfloat16 {@code scale} and {@code zero} with
 * {@code w = (q - 8) * scale + zero}, {@code q} in 0..15.
 *
 * <p>Quantizing a group: {@code scale = max(max - min, 1e-6) / 15} and {@code zero = min + 8 * scale}
 * (float32, as gpt-fast's {@code get_group_qparams}), both rounded to bfloat16 (the kernel's scale
 * format), then {@code q = clamp(round((w - (zero - 8 * scale)) / scale), 0, 15)} with the rounded
 * values, round half to even as {@code torch.round}. {@code tools/make_packed_golden.py} restates it
 * in PyTorch ({@code int4()}) for the INT4 goldens ({@code golden_packed_transformers.json}).
 *
 * @param q one code per weight, row-major
 * @param scales per row and group, {@code [out, in / groupSize]} row-major, bfloat16 values
 * @param zeros same layout as {@code scales}
 */
public record Int4Weight(long[] shape, int groupSize, byte[] q, float[] scales, float[] zeros) {

    /** The group sizes PyTorch's int4 kernels take. */
    public static boolean supportedGroupSize(int groupSize) {
        return groupSize == 32 || groupSize == 64 || groupSize == 128 || groupSize == 256;
    }

    /**
     * Whether PyTorch's int4 kernels take a weight of this shape: CPU packing needs {@code out} a
     * multiple of 16; CUDA's (tinygemm, 8 inner k-tiles) {@code out} a multiple of 8 and {@code in}
     * of 128; both {@code in} a multiple of the group size.
     */
    public static boolean packable(long out, long in, int groupSize, boolean cuda) {
        return in % groupSize == 0 && (cuda ? out % 8 == 0 && in % 128 == 0 : out % 16 == 0);
    }

    public Int4Weight {
        if (shape.length != 2 || shape[1] % groupSize != 0) {
            throw new IllegalArgumentException("int4 needs [out, in] with in a multiple of the group size " + groupSize
                    + ", got " + Arrays.toString(shape));
        }
    }

    /** Quantizes {@code w [out, in]} (row-major float32). */
    public static Int4Weight quantize(float[] w, long out, long in, int groupSize) {
        if (!supportedGroupSize(groupSize)) {
            throw new IllegalArgumentException("int4 group size must be 32, 64, 128 or 256, got " + groupSize);
        }
        if (in % groupSize != 0) {
            throw new IllegalArgumentException(
                    "int4 needs in_features (" + in + ") to be a multiple of the group size " + groupSize);
        }
        int rows = Math.toIntExact(out);
        int cols = Math.toIntExact(in);
        int groups = cols / groupSize;
        byte[] q = new byte[w.length];
        float[] scales = new float[rows * groups];
        float[] zeros = new float[rows * groups];
        // Rows are independent: across the cores (most of quantizing a 7B checkpoint on load).
        IntStream.range(0, rows).parallel().forEach(r -> {
            for (int g = 0; g < groups; g++) {
                int from = r * cols + g * groupSize;
                float min = Float.POSITIVE_INFINITY;
                float max = Float.NEGATIVE_INFINITY;
                for (int i = from; i < from + groupSize; i++) {
                    min = Math.min(min, w[i]);
                    max = Math.max(max, w[i]);
                }
                float scale = Math.max(max - min, 1e-6f) / 15f;
                float zero = min + scale * 8f;
                scale = bf16(scale);
                zero = bf16(zero);
                float low = zero - scale * 8f;
                for (int i = from; i < from + groupSize; i++) {
                    double code = Math.rint((w[i] - low) / scale);
                    q[i] = (byte) Math.max(0, Math.min(15, code));
                }
                scales[r * groups + g] = scale;
                zeros[r * groups + g] = zero;
            }
        });
        return new Int4Weight(new long[] {out, in}, groupSize, q, scales, zeros);
    }

    /** The float32 weight, {@code (q - 8) * scale + zero}, row-major: the reference the tests trust. */
    public float[] dequantize() {
        int cols = Math.toIntExact(shape[1]);
        int groups = cols / groupSize;
        float[] w = new float[q.length];
        for (int i = 0; i < w.length; i++) {
            int s = (i / cols) * groups + (i % cols) / groupSize;
            w[i] = (q[i] - 8) * scales[s] + zeros[s];
        }
        return w;
    }

    private static float bf16(float f) {
        return HalfFloat.bf16ToF32(HalfFloat.f32ToBf16(f));
    }
}
