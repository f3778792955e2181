package ai.medqa.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** One int4 product against the plain-Java dequantized weight, and the formats' edges. */
class Int4LinearTest {

    @Test
    void productEqualsTheDequantizedWeightUpToBf16Activations() {
        int out = 48;
        int in = 256;
        SplittableRandom r = new SplittableRandom(7);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.05);
        }
        float[] x = new float[2 * in];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        Int4Weight q = Int4Weight.quantize(w, out, in, 64);
        float[] deq = q.dequantize();
        try (NDManager m = NDManager.newBaseManager(); Int4Linear linear = new Int4Linear(q, m)) {
            float[] y = linear.forward(m.create(x, new Shape(2, in))).toFloatArray();
            double worst = 0;
            double scale = 0;
            for (int row = 0; row < 2; row++) {
                for (int o = 0; o < out; o++) {
                    double ref = 0;
                    double abs = 0;
                    for (int k = 0; k < in; k++) {
                        ref += (double) x[row * in + k] * deq[o * in + k];
                        abs += Math.abs((double) x[row * in + k] * deq[o * in + k]);
                    }
                    worst = Math.max(worst, Math.abs(y[row * out + o] - ref) / abs);
                    scale = Math.max(scale, Math.abs(ref));
                }
            }
            // bf16 inputs and output: each term off by <= 2^-8 relative, the sum by <= 2^-8 of sum |terms|
            // plus the output's rounding; a wrong layout or scale is off by the size of the output itself.
            assertThat(worst).isLessThanOrEqualTo(2 * Math.pow(2, -8));
            assertThat(scale).isGreaterThan(0.5);
        }
    }

    @Test
    void codesScalesAndRoundTripError() {
        float[] w = new float[16 * 64];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) Math.sin(i * 0.37) * (1 + i % 5);
        }
        Int4Weight q = Int4Weight.quantize(w, 16, 64, 32);
        float[] d = q.dequantize();
        for (int i = 0; i < w.length; i++) {
            assertThat((int) q.q()[i]).isBetween(0, 15);
            float step = q.scales()[i / 32];
            // Half a step of rounding, plus the bf16 rounding of scale and zero carried over 8 steps.
            assertThat(Math.abs(d[i] - w[i])).as("weight %d", i).isLessThanOrEqualTo(0.5f * step + 16 * step / 256 + 1e-6f);
        }
        assertThatThrownBy(() -> Int4Weight.quantize(w, 16, 64, 48)).hasMessageContaining("group size");
        assertThatThrownBy(() -> Int4Weight.quantize(new float[16 * 40], 16, 40, 32)).hasMessageContaining("multiple");
    }

    @Test
    void refusesToRecordGradients() {
        Int4Weight q = Int4Weight.quantize(new float[16 * 64], 16, 64, 64);
        try (NDManager m = NDManager.newBaseManager(); Int4Linear linear = new Int4Linear(q, m)) {
            NDArray x = m.ones(new Shape(1, 64));
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                assertThatThrownBy(() -> linear.forward(x)).isInstanceOf(UnsupportedOperationException.class)
                        .hasMessageContaining("NF4 or INT8");
            }
        }
    }
}
