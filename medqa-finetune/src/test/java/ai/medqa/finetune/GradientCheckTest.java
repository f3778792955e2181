package ai.medqa.finetune;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.medqa.io.DType;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraAdapters;
import ai.medqa.lora.LoraConfig;
import ai.medqa.lora.LoraWeights;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Autograd's LoRA gradients equal central finite differences of the loss, on a tiny random model with
 * every projection adapted, two rows of different lengths (padding and prompt masking included).
 */
class GradientCheckTest {
    @TempDir
    Path dir;

    @Test
    void loraGradientsMatchFiniteDifferences() {
        RandomCheckpoint.write(dir, RandomCheckpoint.config(16, 32, 2, 2, 1, 64, 64, 0), DType.F32, 5);
        try (MistralModel m = MistralModel.load(dir, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
            LoraConfig config = LoraConfig.of(
                    2, 4, 0.0, List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"));
            LoraAdapter adapter = LoraAdapter.create(m, "fd", config, 3);
            Random random = new Random(17);
            for (LoraWeights w : adapter.weights().values()) {
                // B = 0 (PEFT's start) would make every A gradient zero; use random B.
                float[] b = new float[(int) w.b().size()];
                for (int i = 0; i < b.length; i++) {
                    b[i] = (float) (random.nextGaussian() * 0.3);
                }
                w.b().set(b);
            }
            LoraAdapters lora = LoraAdapters.of(m);
            lora.attach(adapter);
            lora.activate("fd");
            lora.setTraining(true);
            LoraParameters params = new LoraParameters(adapter);
            Batch batch = Batch.of(
                    List.of(
                            new TokenizedExample("a", new int[] {1, 9, 33, 4, 17, 60, 22, 2}, 3, false, false),
                            new TokenizedExample("b", new int[] {1, 40, 41, 12, 2}, 2, false, false)),
                    0);

            try (GradientCollector gc = Engine.getInstance().newGradientCollector();
                    NDScope scope = new NDScope()) {
                gc.backward(loss(m, batch));
            }
            List<float[]> grads = new ArrayList<>();
            for (NDArray p : params.arrays()) {
                grads.add(p.getGradient().toFloatArray());
            }

            // 1. Directional derivative along a random direction over all parameters at once.
            List<float[]> values = new ArrayList<>();
            List<float[]> dirs = new ArrayList<>();
            double analytic = 0;
            for (int t = 0; t < params.arrays().size(); t++) {
                float[] v = params.arrays().get(t).toFloatArray();
                float[] d = new float[v.length];
                for (int i = 0; i < d.length; i++) {
                    d[i] = (float) random.nextGaussian();
                    analytic += d[i] * grads.get(t)[i];
                }
                values.add(v);
                dirs.add(d);
            }
            double h = 1e-3;
            double plus = lossAt(m, batch, params, values, dirs, h);
            double minus = lossAt(m, batch, params, values, dirs, -h);
            restore(params, values);
            double numeric = (plus - minus) / (2 * h);
            System.out.printf("directional derivative: autograd %.6f, finite differences %.6f%n", analytic, numeric);
            assertThat(Math.abs(numeric - analytic)).isLessThanOrEqualTo(2e-3 * Math.abs(analytic));

            // 2. The largest coordinate of every fifth tensor, A and B alike.
            int checked = 0;
            for (int t = 0; t < params.arrays().size(); t += 5) {
                float[] g = grads.get(t);
                int k = 0;
                for (int i = 1; i < g.length; i++) {
                    k = Math.abs(g[i]) > Math.abs(g[k]) ? i : k;
                }
                List<float[]> unit = new ArrayList<>();
                for (int u = 0; u < values.size(); u++) {
                    unit.add(new float[values.get(u).length]);
                }
                unit.get(t)[k] = 1f;
                double hh = 1e-2;
                double fd = (lossAt(m, batch, params, values, unit, hh) - lossAt(m, batch, params, values, unit, -hh))
                        / (2 * hh);
                restore(params, values);
                assertThat(Math.abs(fd - g[k]))
                        .as(
                                "%s[%d]: autograd %s, finite differences %s",
                                params.names().get(t), k, g[k], fd)
                        .isLessThanOrEqualTo(1e-2 * Math.abs(g[k]) + 1e-5);
                checked++;
            }
            assertThat(checked).isGreaterThanOrEqualTo(5);
        }
    }

    private static NDArray loss(MistralModel m, Batch b) {
        NDArray ids = m.manager().create(b.ids(), new Shape(b.rows(), b.length()));
        return CausalLmLoss.sum(m.forward(ids, new int[b.rows()]), b).div(b.targets());
    }

    private static double lossAt(
            MistralModel m, Batch b, LoraParameters params, List<float[]> values, List<float[]> dirs, double h) {
        for (int t = 0; t < values.size(); t++) {
            float[] v = values.get(t).clone();
            for (int i = 0; i < v.length; i++) {
                v[i] += (float) (h * dirs.get(t)[i]);
            }
            params.arrays().get(t).set(v);
        }
        try (NDScope scope = new NDScope()) {
            return loss(m, b).getFloat();
        }
    }

    private static void restore(LoraParameters params, List<float[]> values) {
        for (int t = 0; t < values.size(); t++) {
            params.arrays().get(t).set(values.get(t));
        }
    }
}
