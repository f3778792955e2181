package ai.medqa.io;

/**
 * Bit-level conversions between float32 and the two 16-bit float formats of checkpoints: IEEE 754
 * binary16 ("F16") and bfloat16 ("BF16"). Java 17 has neither (Float.float16ToFloat arrived in 20).
 *
 * <p>Widening (to float) is exact. Narrowing rounds to nearest, ties to even, as PyTorch's
 * {@code tensor.to(torch.float16 / torch.bfloat16)} does: values too large become infinity, values
 * too small become (signed) zero or an F16 subnormal. NaN stays NaN (sign and top payload bits
 * kept), so every 16-bit pattern survives a round trip through float.
 */
public final class HalfFloat {
    private HalfFloat() {}

    /** F16 bits to float32, exactly. */
    public static float f16ToF32(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) { // infinity or NaN; shifting keeps a NaN's payload
            return Float.intBitsToFloat(sign | 0x7F80_0000 | (mant << 13));
        }
        if (exp == 0) { // zero or subnormal: mant * 2^-24, exact in float
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** Float32 to F16 bits, rounding to nearest, ties to even. */
    public static short f32ToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xFF;
        int mant = bits & 0x7F_FFFF;
        if (exp == 0xFF) {
            if (mant == 0) {
                return (short) (sign | 0x7C00);
            }
            int payload = mant >>> 13;
            return (short) (sign | 0x7C00 | (payload != 0 ? payload : 0x200)); // never NaN -> inf
        }
        int e = exp - 127 + 15; // the F16 biased exponent, if the value is a normal F16
        if (e >= 0x1F) {
            return (short) (sign | 0x7C00); // overflow: |f| >= 2^16 rounds to infinity
        }
        if (e <= 0) {
            // F16 subnormal (or zero): count units of 2^-24. |f| < 2^-25 is nearer to 0 than to
            // 2^-24 (and exactly 2^-25 ties to the even 0).
            if (e < -10) {
                return (short) sign;
            }
            int m = mant | 0x80_0000; // the implicit leading 1; value = m * 2^(exp - 150)
            int shift = 14 - e; // 14..24 bits to drop
            int q = m >>> shift;
            int rem = m & ((1 << shift) - 1);
            int halfway = 1 << (shift - 1);
            if (rem > halfway || (rem == halfway && (q & 1) != 0)) {
                q++; // may carry into 0x400, the smallest normal, which is the right encoding
            }
            return (short) (sign | q);
        }
        int h = (e << 10) | (mant >>> 13);
        int rem = mant & 0x1FFF;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) {
            h++; // a carry out of the mantissa bumps the exponent; out of 0x7BFF it gives 0x7C00 = inf
        }
        return (short) (sign | h);
    }

    /** BF16 bits to float32, exactly: BF16 is the top half of a float32. */
    public static float bf16ToF32(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    /** Float32 to BF16 bits, rounding to nearest, ties to even (as PyTorch's c10::BFloat16). */
    public static short f32ToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            int top = bits >>> 16; // NaN: keep sign and top payload bits, but never let it become inf
            return (short) ((top & 0x7F) != 0 ? top : top | 0x40);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
