package ai.medqa.quant.internal;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.medqa.model.internal.DecoderStep;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Int4 codes packed by {@link Int4Packing} are byte for byte PyTorch's own
 * {@code _convert_weight_to_int4pack_for_cpu}, for full 64-row blocks and last blocks of 16, 32 and
 * 48 rows, and its probe decides as these shapes do whether the Java layout is PyTorch's here.
 */
class Int4PackingTest {
    @Test
    void javaPackingIsPyTorchs() {
        Random r = new Random(5);
        try (NDManager m = NDManager.newBaseManager()) {
            for (int[] shape : new int[][] {{64, 32}, {16, 64}, {48, 32}, {112, 256}, {208, 96}, {256, 4096}}) {
                int rows = shape[0];
                int cols = shape[1];
                byte[] q = new byte[rows * cols];
                int[] q32 = new int[q.length];
                for (int i = 0; i < q.length; i++) {
                    q[i] = (byte) r.nextInt(16);
                    q32[i] = q[i];
                }
                try (NDArray codes = m.create(q32, new Shape(rows, cols));
                        NDArray theirs = DecoderStep.packInt4(codes);
                        NDArray ours = Int4Packing.pack(q, rows, cols, m)) {
                    assertThat(ours.getShape()).isEqualTo(theirs.getShape());
                    assertThat(ours.getDataType()).isEqualTo(DataType.UINT8).isEqualTo(theirs.getDataType());
                    assertThat(ours.toByteArray()).as(rows + "x" + cols).isEqualTo(theirs.toByteArray());
                    // The probe's verdict is the truth on these shapes too: where PyTorch packs as the Java
                    // layout (AVX-512 here), the Java path is taken; elsewhere PyTorch packs.
                    assertThat(Int4Packing.matches(m))
                            .isEqualTo(
                                    java.util.Arrays.equals(theirs.toByteArray(), Int4Packing.layout(q, rows, cols)));
                }
            }
        }
    }
}
