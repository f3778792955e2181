package ai.medqa.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The ggml tensor types MedQA reads from GGUF files, each with its block layout and its
 * dequantization, written as ggml (and the {@code gguf} Python package) computes it: float32
 * products in the same order, so the values are bit-identical to theirs.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q8_0(8, 32, 34),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    BF16(30, 1, 2);

    /** Types ggml has that MedQA does not read, by number: named in errors. */
    private static final String[] OTHERS = new String[40];

    static {
        String[] names = {
            "Q5_0", "Q5_1", "Q8_1", "Q2_K", "Q3_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
            "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M"
        };
        int[] ids = {6, 7, 9, 10, 11, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29};
        for (int i = 0; i < ids.length; i++) {
            OTHERS[ids[i]] = names[i];
        }
        OTHERS[34] = "TQ1_0";
        OTHERS[35] = "TQ2_0";
        OTHERS[39] = "MXFP4";
    }

    /** ggml's number for the type ({@code ggml_type}). */
    public final int id;
    /** Values per block. */
    public final int blockSize;
    /** Bytes per block. */
    public final int typeSize;

    GgmlType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    /**
     * The type numbered {@code id}.
     *
     * @throws IllegalArgumentException naming the type (known to ggml but not read here, or unknown)
     */
    public static GgmlType of(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        String known = id >= 0 && id < OTHERS.length ? OTHERS[id] : null;
        throw new IllegalArgumentException(
                (known != null ? "type " + known + " (" + id + ") is not supported" : "unknown tensor type " + id)
                        + " (MedQA reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K)");
    }

    /** Bytes of {@code count} values ({@code count} a whole number of blocks). */
    public long bytes(long count) {
        if (count % blockSize != 0) {
            throw new IllegalArgumentException(
                    count + " values are not a whole number of " + this + " blocks of " + blockSize);
        }
        return count / blockSize * typeSize;
    }

    /** Dequantizes {@code out.length} values (whole blocks) from {@code in}'s position on. */
    public void dequantize(ByteBuffer in, float[] out) {
        dequantize(in, out, 0, out.length);
    }

    /** Dequantizes {@code n} values (whole blocks) from {@code in}'s position on into {@code out[o, o + n)}. */
    public void dequantize(ByteBuffer in, float[] out, int o, int n) {
        if (n % blockSize != 0) {
            throw new IllegalArgumentException(n + " values are not whole " + this + " blocks of " + blockSize);
        }
        ByteBuffer b = in.slice().order(ByteOrder.LITTLE_ENDIAN);
        switch (this) {
            case F32 -> b.asFloatBuffer().get(out, o, n);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[o + i] = HalfFloat.f16ToF32(b.getShort(2 * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[o + i] = HalfFloat.bf16ToF32(b.getShort(2 * i));
                }
            }
            case Q8_0 -> {
                for (int blk = 0; blk < n / 32; blk++) {
                    int p = blk * typeSize;
                    float d = half(b, p);
                    for (int j = 0; j < 32; j++) {
                        out[o + blk * 32 + j] = b.get(p + 2 + j) * d;
                    }
                }
            }
            case Q4_0 -> {
                for (int blk = 0; blk < n / 32; blk++) {
                    int p = blk * typeSize;
                    float d = half(b, p);
                    for (int j = 0; j < 16; j++) {
                        int q = b.get(p + 2 + j) & 0xFF;
                        out[o + blk * 32 + j] = d * ((q & 0xF) - 8);
                        out[o + blk * 32 + j + 16] = d * ((q >> 4) - 8);
                    }
                }
            }
            case Q4_1 -> {
                for (int blk = 0; blk < n / 32; blk++) {
                    int p = blk * typeSize;
                    float d = half(b, p);
                    float m = half(b, p + 2);
                    for (int j = 0; j < 16; j++) {
                        int q = b.get(p + 4 + j) & 0xFF;
                        out[o + blk * 32 + j] = d * (q & 0xF) + m;
                        out[o + blk * 32 + j + 16] = d * (q >> 4) + m;
                    }
                }
            }
            case Q4_K, Q5_K -> {
                boolean five = this == Q5_K;
                int[] sc = new int[8];
                int[] mn = new int[8];
                for (int blk = 0; blk < n / 256; blk++) {
                    int p = blk * typeSize;
                    float d = half(b, p);
                    float dmin = half(b, p + 2);
                    scaleMins(b, p + 4, sc, mn);
                    int qh = p + 16; // Q5_K: 32 bytes of fifth bits, one bit per sub-block
                    int qs = five ? p + 48 : p + 16;
                    for (int s = 0; s < 8; s++) {
                        float ds = d * sc[s];
                        float dm = dmin * mn[s];
                        int group = qs + (s / 2) * 32; // 32 bytes: low nibbles for sub-block 2k, high for 2k+1
                        for (int l = 0; l < 32; l++) {
                            int q = b.get(group + l) & 0xFF;
                            q = s % 2 == 0 ? q & 0xF : q >> 4;
                            if (five) {
                                q |= ((b.get(qh + l) >> s) & 1) << 4;
                            }
                            out[o + blk * 256 + s * 32 + l] = ds * q - dm;
                        }
                    }
                }
            }
            case Q6_K -> {
                for (int blk = 0; blk < n / 256; blk++) {
                    int p = blk * typeSize;
                    int ql = p;
                    int qh = p + 128;
                    int scales = p + 192;
                    float d = half(b, p + 208);
                    for (int i = 0; i < 256; i++) {
                        int half = i / 128; // two halves: ql 64 bytes, qh 32 bytes each
                        int r = i % 128;
                        int quarter = r / 32; // 0: ql low [0,32), 1: ql low [32,64), 2: high [0,32), 3: high [32,64)
                        int l = r % 32;
                        int lo = b.get(ql + half * 64 + (quarter % 2) * 32 + l) & 0xFF;
                        lo = quarter < 2 ? lo & 0xF : lo >> 4;
                        int hi = ((b.get(qh + half * 32 + l) & 0xFF) >> (2 * quarter)) & 3;
                        int q = (lo | (hi << 4)) - 32;
                        float ds = d * b.get(scales + i / 16);
                        out[o + blk * 256 + i] = ds * q;
                    }
                }
            }
            default -> throw new IllegalStateException(this.toString());
        }
    }

    private static float half(ByteBuffer b, int at) {
        return HalfFloat.f16ToF32(b.getShort(at));
    }

    /** The eight 6-bit scales and mins of a K-quant block, packed in 12 bytes at {@code at} (ggml's get_scale_min_k4). */
    public static void scaleMins(ByteBuffer b, int at, int[] sc, int[] mn) {
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                sc[j] = b.get(at + j) & 63;
                mn[j] = b.get(at + j + 4) & 63;
            } else {
                sc[j] = (b.get(at + j + 4) & 0xF) | ((b.get(at + j - 4) & 0xFF) >> 6 << 4);
                mn[j] = ((b.get(at + j + 4) & 0xFF) >> 4) | ((b.get(at + j) & 0xFF) >> 6 << 4);
            }
        }
    }
}
