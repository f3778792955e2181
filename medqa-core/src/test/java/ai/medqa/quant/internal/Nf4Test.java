package ai.medqa.quant.internal;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Base64;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * NF4 against bitsandbytes: the code table and packing order from its source, and a golden
 * ({@code quant/nf4_golden.json}, made by {@code tools/make_nf4_golden.py}, which restates
 * bitsandbytes' pure-torch kernels) for packing, absmax, double quantization and dequantization.
 */
public class Nf4Test {

    /** bitsandbytes/functional.py {@code get_4bit_type("nf4")}, as printed there (Python doubles). */
    static final double[] BNB_NF4 = {
        -1.0,
        -0.6961928009986877,
        -0.5250730514526367,
        -0.39491748809814453,
        -0.28444138169288635,
        -0.18477343022823334,
        -0.09105003625154495,
        0.0,
        0.07958029955625534,
        0.16093020141124725,
        0.24611230194568634,
        0.33791524171829224,
        0.44070982933044434,
        0.5626170039176941,
        0.7229568362236023,
        1.0
    };

    @Test
    void codeValuesAreBitsandbytes() {
        float[] codes = Nf4.codes();
        assertThat(codes).hasSize(16);
        for (int i = 0; i < 16; i++) {
            assertThat(codes[i]).as("code %d", i).isEqualTo((float) BNB_NF4[i]);
        }
    }

    @Test
    void evenElementGoesToTheHighNibble() {
        // Element 0 is the block's +max (code 15), element 1 its -max (code 0), element 2 zero (code 7).
        float[] w = new float[64];
        w[0] = 2f;
        w[1] = -2f;
        w[3] = 2f * 0.44070982933044434f; // exactly code 12
        Nf4Weight q = Nf4.quantize(w, new long[] {1, 64}, false, "float32");
        assertThat(q.packed()[0] & 0xFF).isEqualTo(0xF0);
        assertThat(q.packed()[1] & 0xFF).isEqualTo(0x7C);
        assertThat(q.packed()[2] & 0xFF).isEqualTo(0x77);
        assertThat(q.absmax()).containsExactly(2f);
    }

    @Test
    void everyCodeMapsToItselfAndThresholdsGoToTheLowerCode() {
        float[] codes = Nf4.codes();
        for (int i = 0; i < 16; i++) {
            assertThat(Nf4.quantize(codes[i])).isEqualTo(i);
        }
        assertThat(Nf4.quantize(0.8614784181118011f)).isEqualTo(14);
        assertThat(Nf4.quantize(Math.nextUp(0.8614784181118011f))).isEqualTo(15);
        assertThat(Nf4.quantize(0.03979014977812767f)).isEqualTo(7);
        assertThat(Nf4.quantize(Float.NaN)).isEqualTo(0);
    }

    @Test
    void roundTripErrorIsWithinHalfTheLargestCodeGap() {
        float[] codes = Nf4.codes();
        double gap = 0;
        for (int i = 1; i < 16; i++) {
            gap = Math.max(gap, codes[i] - codes[i - 1]);
        }
        float[] w = gaussian(257 * 64 + 10, 0.02, 1); // a partial last block too
        for (boolean doubleQuant : new boolean[] {false, true}) {
            Nf4Weight q = Nf4.quantize(w, new long[] {w.length}, doubleQuant, "float32");
            float[] back = Nf4.dequantize(q);
            float[] trueAbsmax =
                    Nf4.quantize(w, new long[] {w.length}, false, "float32").absmax();
            float[] usedAbsmax = q.blockAbsmax();
            double worstRatio = 0;
            for (int i = 0; i < w.length; i++) {
                int b = i / 64;
                // The bound the table implies, for the absmax actually used to scale, plus the error
                // of scaling with a (double-)quantized absmax where that differs from the true one.
                double bound = gap / 2 * usedAbsmax[b] + Math.abs(usedAbsmax[b] - trueAbsmax[b]) + 1e-7 * trueAbsmax[b];
                double err = Math.abs(back[i] - w[i]);
                worstRatio = Math.max(worstRatio, err / (gap / 2 * trueAbsmax[b]));
                assertThat(err)
                        .as("element %d (double quant %s)", i, doubleQuant)
                        .isLessThanOrEqualTo(bound);
            }
            double se = 0;
            double ss = 0;
            for (int i = 0; i < w.length; i++) {
                se += (back[i] - w[i]) * (back[i] - w[i]);
                ss += w[i] * w[i];
            }
            System.out.printf(
                    "[figure] NF4 round trip, double quant %s: worst |error| / (largest gap/2 x absmax) = %.4f,"
                            + " relative RMS error on Gaussian weights %.4f%n",
                    doubleQuant, worstRatio, Math.sqrt(se / ss));
        }
    }

    @Test
    void doubleQuantizedAbsmaxIsCloseToTheTrueAbsmax() {
        float[] w = gaussian(1024 * 64, 0.02, 2);
        float[] exact = Nf4.quantize(w, new long[] {w.length}, false, "float32").absmax();
        Nf4Weight q = Nf4.quantize(w, new long[] {w.length}, true, "float32");
        float[] approx = q.blockAbsmax();
        double worst = 0;
        for (int i = 0; i < exact.length; i++) {
            worst = Math.max(worst, Math.abs(approx[i] - exact[i]) / exact[i]);
        }
        // The dynamic map's step near 1 is 1.4%, so the absmax - mean values keep about 0.7% of their block's range.
        assertThat(worst).isLessThan(0.02);
        System.out.printf("[figure] double quant: worst relative absmax error %.4f%n", worst);
    }

    @Test
    void matchesBitsandbytesKernelsOnGolden() throws IOException {
        JsonNode g = Json.MAPPER.readTree(resource("quant/nf4_golden.json").toFile());
        long[] shape = {g.get("shape").get(0).asLong(), g.get("shape").get(1).asLong()};
        float[] w = floats(g, "weight_f32_b64");

        assertThat(Nf4.dynamicMap()).as("create_dynamic_map()").containsExactly(floats(g, "dynamic_map_f32_b64"));

        Nf4Weight single = Nf4.quantize(w, shape, false, "float32");
        assertThat(single.packed()).as("packed codes").containsExactly(bytes(g, "packed_b64"));
        assertThat(single.absmax()).as("absmax").containsExactly(floats(g, "absmax_f32_b64"));
        assertThat(Nf4.dequantize(single)).as("dequantized").containsExactly(floats(g, "dequant_f32_b64"));

        Nf4Weight dq = Nf4.quantize(w, shape, true, "float32");
        assertThat(dq.packed()).containsExactly(bytes(g, "packed_b64"));
        // torch's float32 mean() sums in a vectorised cascade; ours rounds a double sum once: 1 ulp apart at most.
        float torchOffset = floats(g, "nested_offset_f32_b64")[0];
        assertThat(Math.abs(dq.nested().offset() - torchOffset))
                .as("nested offset")
                .isLessThanOrEqualTo(Math.ulp(torchOffset));
        // Given torch's offset, the 8-bit blockwise kernel must agree bit for bit.
        Nf4Weight.Nested nested = Nf4.quantizeAbsmax(single.absmax(), torchOffset);
        assertThat(nested.absmax()).as("nested absmax").containsExactly(floats(g, "nested_absmax_f32_b64"));
        assertThat(nested.q()).as("8-bit absmax").containsExactly(bytes(g, "qabsmax_b64"));
        Nf4Weight withTorchOffset =
                new Nf4Weight(shape, 64, single.packed(), single.quantMap(), null, nested, "float32");
        assertThat(Nf4.dequantize(withTorchOffset))
                .as("dequantized, double quant")
                .containsExactly(floats(g, "dequant_double_f32_b64"));
    }

    public static float[] gaussian(int n, double std, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * std);
        }
        return v;
    }

    public static Path resource(String relative) {
        try {
            return Path.of(Nf4Test.class.getResource("/" + relative).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test resource " + relative, e);
        }
    }

    private static byte[] bytes(JsonNode g, String key) {
        return Base64.getDecoder().decode(g.get(key).asText());
    }

    private static float[] floats(JsonNode g, String key) {
        ByteBuffer b = ByteBuffer.wrap(bytes(g, key)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }
}
