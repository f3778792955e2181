package ai.medqa.quant;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.medqa.model.DenseLinear;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Every DJL kernel against the plain-Java dequantizer, on shapes with partial blocks and bands. */
class Nf4LinearTest {

    @ParameterizedTest
    @EnumSource(Nf4Linear.Kernel.class)
    void kernelsEqualJavaDequantizedWeights(Nf4Linear.Kernel kernel) {
        // 96 x 200: rows do not start on block boundaries (200 % 64 != 0); 160 x 256 is banded.
        long[][] shapes = {{96, 200}, {160, 256}, {7, 64}, {600, 128}};
        try (NDManager manager = NDManager.newBaseManager()) {
            for (long[] s : shapes) {
                for (boolean doubleQuant : new boolean[] {false, true}) {
                    float[] w = Nf4Test.gaussian((int) (s[0] * s[1]), 0.05, s[0] * 31 + s[1]);
                    Nf4Weight q = Nf4.quantize(w, s, doubleQuant, "float32");
                    float[] reference = Nf4.dequantize(q);
                    try (NDScope scope = new NDScope();
                            Nf4Linear nf4 = Nf4Linear.of(q, manager, DataType.FLOAT32, kernel, 2048);
                            DenseLinear dense = new DenseLinear(manager.create(reference, new Shape(s[0], s[1])))) {
                        if (kernel != Nf4Linear.Kernel.CACHED) {
                            assertThat(nf4.dequantize().toFloatArray()).as("%s %s", kernel, q).containsExactly(reference);
                        }
                        // One row is a decode step (SCRIPT's table kernel when in % 64 == 0), three a prefill.
                        for (long rows : new long[] {3, 1}) {
                            NDArray x = manager.randomNormal(new Shape(rows, s[1]));
                            float[] ours = nf4.forward(x).toFloatArray();
                            float[] expected = dense.forward(x).toFloatArray();
                            for (int i = 0; i < ours.length; i++) {
                                assertThat(ours[i]).as("%s %s output %d", kernel, q, i)
                                        .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5f));
                            }
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Int8Linear.Kernel.class)
    void int8KernelsEqualJavaDequantizedWeights(Int8Linear.Kernel kernel) {
        try (NDManager manager = NDManager.newBaseManager(); NDScope scope = new NDScope()) {
            float[] w = Nf4Test.gaussian(96 * 200, 0.05, 5);
            java.util.Arrays.fill(w, 200, 400, 0f); // an all-zero row
            Int8Linear.Int8Weight q = Int8Linear.Int8Weight.quantize(w, 96, 200);
            float[] reference = q.dequantize();
            for (int i = 0; i < w.length; i++) {
                assertThat(Math.abs(reference[i] - w[i])).isLessThanOrEqualTo(q.scale()[i / 200] * 0.5f * 1.0001f);
            }
            try (Int8Linear int8 = new Int8Linear(q, manager, DataType.FLOAT32, kernel);
                    DenseLinear dense = new DenseLinear(manager.create(reference, new Shape(96, 200)))) {
                NDArray x = manager.randomNormal(new Shape(2, 200));
                float[] ours = int8.forward(x).toFloatArray();
                float[] expected = dense.forward(x).toFloatArray();
                for (int i = 0; i < ours.length; i++) {
                    assertThat(ours[i]).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5f));
                }
            }
        }
    }
}
