package ai.medqa.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Checks the hand-written float16/bfloat16 conversions against references built from Java's own
 * double arithmetic: Math.scalb (exact for these ranges) and Math.rint (round half to even).
 */
class HalfFloatTest {

    /** F16 bits -> value, computed in double from the IEEE 754 definition. */
    private static double f16Reference(int h) {
        int sign = (h >>> 15) & 1;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        double v;
        if (exp == 0x1F) {
            v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (exp == 0) {
            v = Math.scalb((double) mant, -24);
        } else {
            v = Math.scalb((double) (1024 + mant), exp - 25);
        }
        return sign == 1 ? -v : v;
    }

    /** Float -> F16 bits, rounding with Math.rint (ties to even) on an exact double scaling. */
    private static short f16FromFloatReference(float f) {
        int sign = Float.floatToRawIntBits(f) < 0 ? 0x8000 : 0;
        double a = Math.abs((double) f);
        if (Double.isNaN(a)) {
            throw new IllegalArgumentException("NaN is checked separately");
        }
        if (Double.isInfinite(a)) {
            return (short) (sign | 0x7C00);
        }
        if (a < 0x1p-14) { // F16 subnormal range: units of 2^-24; 1024 units is the smallest normal
            return (short) (sign | (int) Math.rint(a * 0x1p24));
        }
        int e = Math.getExponent(a);
        double q = Math.rint(Math.scalb(a, 10 - e)); // 1024..2048
        if (q == 2048) {
            q = 1024;
            e++;
        }
        if (e > 15) {
            return (short) (sign | 0x7C00);
        }
        return (short) (sign | ((e + 15) << 10) | ((int) q - 1024));
    }

    /** Float -> BF16 bits: the nearer of the two BF16 values around f, ties to the even pattern. */
    private static short bf16FromFloatReference(float f) {
        int bits = Float.floatToRawIntBits(f);
        int lo = bits >>> 16; // truncation: toward zero in magnitude
        int hi = lo + 1; // next BF16 away from zero (0x7F80 = infinity past the largest finite)
        double x = Math.abs((double) f);
        double loV = Math.abs((double) Float.intBitsToFloat(lo << 16));
        double hiV = (hi & 0x7FFF) == 0x7F80 ? 0x1p128 : Math.abs((double) Float.intBitsToFloat(hi << 16));
        double dLo = x - loV;
        double dHi = hiV - x;
        if (dLo < dHi || (dLo == dHi && (lo & 1) == 0)) {
            return (short) lo;
        }
        return (short) hi;
    }

    private static void checkF16(float f) {
        assertThat(HalfFloat.f32ToF16(f))
                .as("f32ToF16(%s) (bits %08x)", f, Float.floatToRawIntBits(f))
                .isEqualTo(f16FromFloatReference(f));
    }

    private static void checkBf16(float f) {
        assertThat(HalfFloat.f32ToBf16(f))
                .as("f32ToBf16(%s) (bits %08x)", f, Float.floatToRawIntBits(f))
                .isEqualTo(bf16FromFloatReference(f));
    }

    @Test
    void everyF16WidensExactlyAndRoundTrips() {
        for (int h = 0; h < 65536; h++) {
            float f = HalfFloat.f16ToF32((short) h);
            double ref = f16Reference(h);
            if (Double.isNaN(ref)) {
                assertThat(f).as("bits %04x", h).isNaN();
            } else {
                assertThat((double) f).as("bits %04x", h).isEqualTo(ref);
                assertThat(Float.floatToRawIntBits(f) < 0).as("sign of %04x", h).isEqualTo(h >= 0x8000);
            }
            // NaNs included: sign and payload survive.
            assertThat(HalfFloat.f32ToF16(f) & 0xFFFF)
                    .as("round trip of %04x", h)
                    .isEqualTo(h);
        }
    }

    @Test
    void everyBf16WidensExactlyAndRoundTrips() {
        for (int h = 0; h < 65536; h++) {
            float f = HalfFloat.bf16ToF32((short) h);
            assertThat(Float.floatToRawIntBits(f)).isEqualTo(h << 16);
            assertThat(HalfFloat.f32ToBf16(f) & 0xFFFF)
                    .as("round trip of %04x", h)
                    .isEqualTo(h);
        }
    }

    @Test
    void f16RoundingAtEveryMidpointBetweenNeighbouringHalves() {
        // For each pair of adjacent non-negative finite halves (and the pair (max, inf)), the exact
        // midpoint is a tie and must go to the even one; one float ulp either side must go to the
        // nearer one. Midpoints of halves are exact floats (F16 has 11 significant bits, float 24).
        for (int h = 0; h < 0x7C00; h++) {
            double lo = f16Reference(h);
            double hi = h + 1 == 0x7C00 ? 65536.0 : f16Reference(h + 1); // IEEE treats inf as 2^16 here
            float mid = (float) ((lo + hi) / 2);
            assertThat((double) mid).isEqualTo((lo + hi) / 2);
            for (float f : new float[] {mid, Math.nextDown(mid), Math.nextUp(mid), (float) lo}) {
                checkF16(f);
                checkF16(-f);
            }
            int even = (h & 1) == 0 ? h : h + 1;
            assertThat(HalfFloat.f32ToF16(mid) & 0xFFFF)
                    .as("tie between %04x and %04x", h, h + 1)
                    .isEqualTo(even);
            assertThat(HalfFloat.f32ToF16(Math.nextDown(mid)) & 0xFFFF).isEqualTo(h);
            assertThat(HalfFloat.f32ToF16(Math.nextUp(mid)) & 0xFFFF).isEqualTo(h + 1);
        }
    }

    @Test
    void f16RoundingOnEveryMantissaWithTheDroppedBitsThatMatter() {
        // Every float exponent from far below the F16 subnormals to past its overflow, every value
        // of the 10 mantissa bits F16 keeps, and the dropped 13 bits at zero, just below, at and
        // just above the half-way point, and all ones.
        int[] low = {0, 1, 0x0FFF, 0x1000, 0x1001, 0x1FFF, 0x0800, 0x1800};
        for (int exp = 127 - 30; exp <= 127 + 17; exp++) {
            for (int top = 0; top < 1024; top++) {
                for (int l : low) {
                    float f = Float.intBitsToFloat((exp << 23) | (top << 13) | l);
                    checkF16(f);
                    checkF16(-f);
                }
            }
        }
    }

    @Test
    void f16AndBf16RoundingOfRandomFloats() {
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < 2_000_000; i++) {
            float f = Float.intBitsToFloat(random.nextInt());
            if (!Float.isNaN(f)) {
                checkF16(f);
                checkBf16(f);
            }
            float g = (float) (random.nextGaussian() * 100); // the range weights and activations live in
            checkF16(g);
            checkBf16(g);
        }
    }

    @Test
    void specialValues() {
        assertThat(HalfFloat.f32ToF16(65504f)).isEqualTo((short) 0x7BFF); // largest F16
        assertThat(HalfFloat.f32ToF16(Math.nextDown(65520f))).isEqualTo((short) 0x7BFF);
        assertThat(HalfFloat.f32ToF16(65520f)).isEqualTo((short) 0x7C00); // tie with 2^16: to even = inf
        assertThat(HalfFloat.f32ToF16(Float.MAX_VALUE)).isEqualTo((short) 0x7C00);
        assertThat(HalfFloat.f32ToF16(Float.NEGATIVE_INFINITY)).isEqualTo((short) 0xFC00);
        assertThat(HalfFloat.f32ToF16(0x1p-24f)).isEqualTo((short) 0x0001); // smallest subnormal
        assertThat(HalfFloat.f32ToF16(0x1p-25f)).isEqualTo((short) 0x0000); // tie with 0: to even = 0
        assertThat(HalfFloat.f32ToF16(Math.nextUp(0x1p-25f))).isEqualTo((short) 0x0001);
        assertThat(HalfFloat.f32ToF16(0x1.8p-24f)).isEqualTo((short) 0x0002); // 1.5 units: tie to even 2
        assertThat(HalfFloat.f32ToF16(0x1.8p-23f)).isEqualTo((short) 0x0003); // 3 units, exact
        assertThat(HalfFloat.f32ToF16(Math.nextDown(0x1p-14f))).isEqualTo((short) 0x0400); // rounds up to min normal
        assertThat(HalfFloat.f32ToF16(-0.0f)).isEqualTo((short) 0x8000);
        assertThat(HalfFloat.f32ToF16(Float.MIN_VALUE)).isEqualTo((short) 0);
        assertThat(HalfFloat.f32ToF16(1 + 0x1p-11f)).isEqualTo((short) 0x3C00); // tie: 1.0 is even
        assertThat(HalfFloat.f32ToF16(1 + 0x3p-11f)).isEqualTo((short) 0x3C02); // tie: up to even
        assertThat(HalfFloat.f32ToF16(2049f)).isEqualTo(HalfFloat.f32ToF16(2048f)); // ulp 2 at 2048
        assertThat(HalfFloat.f16ToF32(HalfFloat.f32ToF16(2051f))).isEqualTo(2052f);
        assertThat(HalfFloat.f16ToF32(HalfFloat.f32ToF16(Float.NaN))).isNaN();
        assertThat(HalfFloat.f16ToF32(HalfFloat.f32ToF16(Float.intBitsToFloat(0x7F80_0001))))
                .isNaN(); // low payload only

        assertThat(HalfFloat.f32ToBf16(1 + 0x1p-8f)).isEqualTo((short) 0x3F80); // tie: 1.0 is even
        assertThat(HalfFloat.f32ToBf16(1 + 0x3p-8f)).isEqualTo((short) 0x3F82);
        assertThat(HalfFloat.f32ToBf16(Float.MAX_VALUE)).isEqualTo((short) 0x7F80); // rounds to inf, as torch
        assertThat(HalfFloat.bf16ToF32(HalfFloat.f32ToBf16(Float.intBitsToFloat(0x7F80_0001))))
                .isNaN();
        assertThat(HalfFloat.bf16ToF32(HalfFloat.f32ToBf16(Float.intBitsToFloat(0xFFFF_FFFF))))
                .isNaN();
    }
}
