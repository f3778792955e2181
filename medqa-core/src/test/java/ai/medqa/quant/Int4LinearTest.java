package ai.medqa.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.medqa.quant.internal.Int4Linear;
import ai.medqa.quant.internal.Int4Weight;
import ai.medqa.quant.internal.Int8Linear;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Int4 and int8 products against the plain-Java dequantized weight, and the int4 format's edges. */
class Int4LinearTest {

    /**
     * Few rows take PyTorch's packed kernel; 128 rows and more ({@code decoder_step.py}'s
     * {@code int4_bands}) dequantize the kernel's layout to bfloat16 and multiply with a GEMM. Both
     * must equal the plain-Java dequantized weight up to bfloat16 rounding: a wrong reading of the
     * layout, of the nibble order or of the scales is off by the size of the output itself. 448
     * outputs make seven 64-row blocks (a full band of four, then a band of three).
     */
    @ParameterizedTest(name = "{0} rows")
    @ValueSource(ints = {2, 127, 128, 160})
    void productEqualsTheDequantizedWeightUpToBf16Rounding(int rows) {
        int out = 448;
        int in = 256;
        SplittableRandom r = new SplittableRandom(7);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.05 + (i % in < 64 ? 0.02 : 0));
        }
        float[] x = new float[rows * in];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        Int4Weight q = Int4Weight.quantize(w, out, in, 64);
        float[] deq = q.dequantize();
        try (NDManager m = NDManager.newBaseManager();
                Int4Linear linear = new Int4Linear(q, m)) {
            float[] y = linear.forward(m.create(x, new Shape(rows, in))).toFloatArray();
            // Each term is off by <= 2^-9 relative for the bf16 activation and, on the GEMM path, as
            // much for the bf16 weight; the sum by that of sum |terms|, plus the output's rounding.
            assertThat(worstRelativeError(x, deq, y, rows, out, in)).isLessThanOrEqualTo(2 * Math.pow(2, -8));
        }
    }

    /** The same for int8 (GEMM from 96 rows on), whose codes are exact in bfloat16. */
    @ParameterizedTest(name = "{0} rows")
    @ValueSource(ints = {2, 95, 96, 300})
    void int8ProductEqualsTheDequantizedWeightUpToBf16Rounding(int rows) {
        int out = 300;
        int in = 128;
        SplittableRandom r = new SplittableRandom(11);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * (1 + i / in % 7));
        }
        float[] x = new float[rows * in];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        Int8Linear.Int8Weight q = Int8Linear.Int8Weight.quantize(w, out, in);
        float[] deq = q.dequantize();
        try (NDManager m = NDManager.newBaseManager();
                Int8Linear linear = new Int8Linear(q, m, ai.djl.ndarray.types.DataType.FLOAT32)) {
            float[] y = linear.forward(m.create(x, new Shape(rows, in))).toFloatArray();
            assertThat(worstRelativeError(x, deq, y, rows, out, in)).isLessThanOrEqualTo(2 * Math.pow(2, -8));
        }
    }

    /** max over outputs of |y - x W^T| / sum |x_k W_k|, with W^T computed in double. */
    private static double worstRelativeError(float[] x, float[] w, float[] y, int rows, int out, int in) {
        double worst = 0;
        double scale = 0;
        for (int row = 0; row < rows; row++) {
            for (int o = 0; o < out; o++) {
                double ref = 0;
                double abs = 0;
                for (int k = 0; k < in; k++) {
                    ref += (double) x[row * in + k] * w[o * in + k];
                    abs += Math.abs((double) x[row * in + k] * w[o * in + k]);
                }
                worst = Math.max(worst, Math.abs(y[row * out + o] - ref) / abs);
                scale = Math.max(scale, Math.abs(ref));
            }
        }
        assertThat(scale).as("outputs of a size a layout error would show in").isGreaterThan(0.5);
        return worst;
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
            assertThat(Math.abs(d[i] - w[i]))
                    .as("weight %d", i)
                    .isLessThanOrEqualTo(0.5f * step + 16 * step / 256 + 1e-6f);
        }
        assertThatThrownBy(() -> Int4Weight.quantize(w, 16, 64, 48)).hasMessageContaining("group size");
        assertThatThrownBy(() -> Int4Weight.quantize(new float[16 * 40], 16, 40, 32))
                .hasMessageContaining("multiple");
    }

    @Test
    void refusesToRecordGradients() {
        Int4Weight q = Int4Weight.quantize(new float[16 * 64], 16, 64, 64);
        try (NDManager m = NDManager.newBaseManager();
                Int4Linear linear = new Int4Linear(q, m)) {
            NDArray x = m.ones(new Shape(1, 64));
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                assertThatThrownBy(() -> linear.forward(x))
                        .isInstanceOf(UnsupportedOperationException.class)
                        .hasMessageContaining("NF4 or INT8");
            }
        }
    }
}
