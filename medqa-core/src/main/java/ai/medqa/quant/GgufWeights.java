package ai.medqa.quant;

import ai.medqa.io.Buffers;
import ai.medqa.io.CheckpointException;
import ai.medqa.io.GgmlType;
import ai.medqa.io.HalfFloat;
import ai.medqa.model.GgufModel;
import ai.medqa.quant.internal.Int4Weight;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * GGUF's 4-bit blocks onto MedQA's INT4 layout without requantizing: Q4_0 ({@code d * (q - 8)}),
 * Q4_1 ({@code d * q + m}) and Q4_K's 32-value sub-blocks ({@code d*sc * q - dmin*m}) are each a group
 * of 32 with {@code w = (q - 8) * scale + zero}, the same 4-bit codes, and scale and zero computed in
 * float32 as ggml computes them, then rounded to bfloat16 (the kernels' format: the only added error,
 * at most 2^-9 of each group's scale and zero).
 */
final class GgufWeights {
    private GgufWeights() {}

    /** Whether {@code type}'s blocks map onto INT4 groups of 32. */
    static boolean int4(GgmlType type) {
        return type == GgmlType.Q4_0 || type == GgmlType.Q4_1 || type == GgmlType.Q4_K;
    }

    /** The stored tensor as an INT4 weight {@code [out, in]} in the checkpoint's row order. */
    static Int4Weight int4(GgufModel.Stored s, long out, long in) {
        GgmlType type = s.tensor().type();
        long[] shape = s.tensor().shape(); // ggml's order: a row's length first
        if (shape.length != 2 || shape[0] != in || shape[1] != out || in % type.blockSize != 0) {
            throw new CheckpointException(
                    s.file().path() + ": tensor " + s.tensor().name() + " is "
                            + type + " " + Arrays.toString(shape) + "; the model needs [" + in + ", " + out
                            + "] with rows of whole " + type.blockSize + "-value blocks");
        }
        int rows = Math.toIntExact(out);
        int cols = Math.toIntExact(in);
        int groups = cols / 32;
        byte[] q = new byte[rows * cols];
        float[] scales = new float[rows * groups];
        float[] zeros = new float[rows * groups];
        // One bulk copy off the mapped file, then rows in parallel: per-byte reads of a mapped buffer
        // were most of a 7B file's load.
        ByteBuffer mapped = s.file().raw(s.tensor().name());
        byte[] data = new byte[mapped.remaining()];
        mapped.get(data);
        Buffers.release(mapped); // its pages leave the process now, not at the next GC (peak RSS)
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int[] to = GgufModel.checkpointRows(rows, s.permutedHeads());
        int blocks = cols / type.blockSize;
        IntStream.range(0, rows).parallel().forEach(r -> {
            int row = to[r];
            int[] sc = new int[8];
            int[] mn = new int[8];
            for (int blk = 0; blk < blocks; blk++) {
                int p = (r * blocks + blk) * type.typeSize;
                switch (type) {
                    case Q4_0, Q4_1 -> {
                        float d = half(b, p);
                        float zero = type == GgmlType.Q4_0 ? 0f : half(b, p + 2) + 8f * d;
                        int qs = p + (type == GgmlType.Q4_0 ? 2 : 4);
                        int g = row * groups + blk;
                        scales[g] = bf16(d);
                        zeros[g] = bf16(zero);
                        int at = row * cols + blk * 32;
                        for (int j = 0; j < 16; j++) {
                            int v = data[qs + j] & 0xFF;
                            q[at + j] = (byte) (v & 0xF);
                            q[at + j + 16] = (byte) (v >> 4);
                        }
                    }
                    case Q4_K -> {
                        float d = half(b, p);
                        float dmin = half(b, p + 2);
                        GgmlType.scaleMins(b, p + 4, sc, mn);
                        for (int s8 = 0; s8 < 8; s8++) {
                            float ds = d * sc[s8];
                            float dm = dmin * mn[s8];
                            int g = row * groups + blk * 8 + s8;
                            scales[g] = bf16(ds);
                            zeros[g] = bf16(8f * ds - dm);
                            int group = p + 16 + (s8 / 2) * 32;
                            int at = row * cols + blk * 256 + s8 * 32;
                            int shift = s8 % 2 == 0 ? 0 : 4;
                            for (int l = 0; l < 32; l++) {
                                q[at + l] = (byte) ((data[group + l] & 0xFF) >> shift & 0xF);
                            }
                        }
                    }
                    default -> throw new IllegalArgumentException(type + " does not map onto int4");
                }
            }
        });
        return new Int4Weight(new long[] {out, in}, 32, q, scales, zeros);
    }

    private static float half(ByteBuffer b, int at) {
        return HalfFloat.f16ToF32(b.getShort(at));
    }

    private static float bf16(float f) {
        return HalfFloat.bf16ToF32(HalfFloat.f32ToBf16(f));
    }
}
