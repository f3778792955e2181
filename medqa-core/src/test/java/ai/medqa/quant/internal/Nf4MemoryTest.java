package ai.medqa.quant.internal;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Bits per quantized weight of a Mistral-7B decoder layer, from the sizes of the device buffers
 * {@link Nf4Linear} actually holds (packed codes, 8-bit absmax, nested absmax; the two lookup
 * tables are shared by the whole model, as {@link QuantizedLinears} shares them).
 *
 * <p>One layer's seven projections are built from random weights at Mistral-7B's shapes; the 32
 * layers of the model are identical in shape, so the model figure is 32 x this layer plus the
 * 16-bit embedding, lm_head and norms. Quantizing all 7B weights would take minutes of CPU for the
 * same per-layer numbers.
 */
class Nf4MemoryTest {

    @Test
    void mistral7bLayerCostsTheFormatsBitsPerWeight() {
        long h = 4096;
        long kv = 1024;
        long inter = 14336;
        long[][] shapes = {{h, h}, {kv, h}, {kv, h}, {h, h}, {inter, h}, {inter, h}, {h, inter}};
        SplittableRandom r = new SplittableRandom(7);
        long weights = 0;
        long bytes = 0;
        long int8Bytes = 0;
        long tableBytes = 0;
        try (NDManager manager = NDManager.newBaseManager()) {
            Nf4Linear.Tables tables = null;
            for (long[] s : shapes) {
                float[] w = new float[Math.toIntExact(s[0] * s[1])];
                for (int i = 0; i < w.length; i++) {
                    w[i] = (float) (r.nextDouble() - 0.5) * 0.04f;
                }
                Nf4Weight q = Nf4.quantize(w, s, true, "bfloat16");
                if (tables == null) {
                    tables = new Nf4Linear.Tables(
                            manager, q.quantMap(), q.nested().quantMap());
                    tableBytes = tables.bytes();
                }
                try (Nf4Linear l = Nf4Linear.of(q, manager, DataType.FLOAT16, tables);
                        Int8Linear i8 = new Int8Linear(
                                Int8Linear.Int8Weight.quantize(w, s[0], s[1]), manager, DataType.FLOAT16)) {
                    weights += s[0] * s[1];
                    bytes += l.deviceBytes();
                    int8Bytes += i8.deviceBytes();
                }
            }
        }
        double bits = 8.0 * bytes / weights;
        long layers = 32;
        long embed = 32000 * h * 2; // F16 embedding, and as much again for the untied lm_head
        long norms = (2 * layers + 1) * h * 2;
        double modelGb = (layers * bytes + 2 * embed + norms + tableBytes) / 1e9;
        double int8Gb = (layers * int8Bytes + 2 * embed + norms) / 1e9;
        double f16Gb = (layers * weights * 2 + 2 * embed + norms) / 1e9;
        System.out.printf(
                "[figure] Mistral-7B layer: %d weights in %d device bytes = %.4f bits per weight (NF4 + double"
                        + " quant; format: 4 + 8/64 + 32/16384 = 4.1270); INT8: %.4f bits%n",
                weights, bytes, bits, 8.0 * int8Bytes / weights);
        System.out.printf(
                "[figure] Mistral-7B extrapolated from that layer x 32 + F16 embed/lm_head/norms: NF4 %.2f GB,"
                        + " INT8 %.2f GB, F16 %.2f GB%n",
                modelGb, int8Gb, f16Gb);
        assertThat(bits).isBetween(4.1269, 4.1271);
    }
}
