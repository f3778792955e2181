package ai.medqa.quant.internal;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.medqa.io.HalfFloat;
import ai.medqa.model.DenseLinear;
import ai.medqa.model.Linear;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * NF4 and INT8 products against dense products of the plain-Java dequantized weights, on shapes with
 * partial blocks and bands: inference (the script's kernels) and the training route (gradients
 * recorded: the weight dequantized with DJL ops).
 */
class Nf4LinearTest {

    @Test
    void nf4EqualsJavaDequantizedWeights() {
        // 96 x 200: rows do not start on block boundaries (200 % 64 != 0); 600 x 128 is banded.
        long[][] shapes = {{96, 200}, {160, 256}, {7, 64}, {600, 128}};
        try (NDManager manager = NDManager.newBaseManager()) {
            for (long[] s : shapes) {
                for (boolean doubleQuant : new boolean[] {false, true}) {
                    float[] w = Nf4Test.gaussian((int) (s[0] * s[1]), 0.05, s[0] * 31 + s[1]);
                    Nf4Weight q = Nf4.quantize(w, s, doubleQuant, "float32");
                    float[] reference = Nf4.dequantize(q);
                    try (NDScope scope = new NDScope();
                            Nf4Linear nf4 = Nf4Linear.of(q, manager, DataType.FLOAT32);
                            DenseLinear dense = new DenseLinear(manager.create(reference, new Shape(s[0], s[1])))) {
                        assertThat(nf4.dequantize().toFloatArray()).as("%s", q).containsExactly(reference);
                        // One row is a decode step (the table kernel when in % 64 == 0), three a prefill.
                        for (long rows : new long[] {3, 1}) {
                            NDArray x = manager.randomNormal(new Shape(rows, s[1]));
                            float[] expected = dense.forward(x).toFloatArray();
                            assertClose(nf4.forward(x).toFloatArray(), expected, 0, q + " inference");
                            assertClose(training(nf4, x), expected, 0, q + " training route");
                        }
                    }
                }
            }
        }
    }

    @Test
    void int8EqualsJavaDequantizedWeights() {
        // 200 inputs take the plain float product (the packed kernel needs in % 32 == 0); 256 the packed
        // kernel (2 rows) and bfloat16 GEMMs on bands (100 rows), both on bfloat16-rounded activations.
        long[][] shapes = {{96, 200}, {300, 256}};
        try (NDManager manager = NDManager.newBaseManager();
                NDScope scope = new NDScope()) {
            for (long[] s : shapes) {
                int out = (int) s[0];
                int in = (int) s[1];
                float[] w = Nf4Test.gaussian(out * in, 0.05, 5);
                java.util.Arrays.fill(w, in, 2 * in, 0f); // an all-zero row
                Int8Linear.Int8Weight q = Int8Linear.Int8Weight.quantize(w, out, in);
                float[] reference = q.dequantize();
                for (int i = 0; i < w.length; i++) {
                    assertThat(Math.abs(reference[i] - w[i])).isLessThanOrEqualTo(q.scale()[i / in] * 0.5f * 1.0001f);
                }
                try (Int8Linear int8 = new Int8Linear(q, manager, DataType.FLOAT32);
                        DenseLinear dense = new DenseLinear(manager.create(reference, new Shape(out, in)))) {
                    for (int rows : new int[] {2, 100}) {
                        NDArray x = manager.randomNormal(new Shape(rows, in));
                        assertClose(training(int8, x), dense.forward(x).toFloatArray(), 0, "int8 training route");
                        if (in % 32 != 0) {
                            assertClose(
                                    int8.forward(x).toFloatArray(),
                                    dense.forward(x).toFloatArray(),
                                    0,
                                    "int8 plain");
                            continue;
                        }
                        // The kernels multiply bf16(x) by the exact weight in float32 and round the result
                        // once to bfloat16 (half an ulp: 2^-9 relative).
                        float[] xs = x.toFloatArray();
                        for (int i = 0; i < xs.length; i++) {
                            xs[i] = HalfFloat.bf16ToF32(HalfFloat.f32ToBf16(xs[i]));
                        }
                        float[] expected = dense.forward(manager.create(xs, new Shape(rows, in)))
                                .toFloatArray();
                        assertClose(
                                int8.forward(x).toFloatArray(), expected, 1.0 / 256, "int8 packed, " + rows + " rows");
                    }
                }
            }
        }
    }

    /** {@code l(x)} with gradients recorded: the training route. */
    private static float[] training(Linear l, NDArray x) {
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            return l.forward(x).toFloatArray();
        }
    }

    /** |ours - expected| <= 1e-5 + relative * |expected| element by element. */
    private static void assertClose(float[] ours, float[] expected, double relative, String what) {
        assertThat(ours).hasSameSizeAs(expected);
        for (int i = 0; i < ours.length; i++) {
            assertThat(ours[i]).as("%s output %d", what, i).isCloseTo(expected[i], Offset.offset((float)
                    (1e-5 + relative * Math.abs(expected[i]))));
        }
    }
}
