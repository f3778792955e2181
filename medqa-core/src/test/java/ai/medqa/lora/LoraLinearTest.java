package ai.medqa.lora;

import static ai.medqa.model.Logits.floats2;
import static ai.medqa.model.Logits.maxAbsDiff;
import static ai.medqa.model.Logits.prefillAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.medqa.model.Linear;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The decorator itself: any base, gradients to A and B, dropout only in training. */
class LoraLinearTest {

    /** A base that is not a DenseLinear, standing in for NF4 / INT8 projections. */
    private static final class OpaqueLinear implements Linear {
        private final Linear inner;

        OpaqueLinear(Linear inner) {
            this.inner = inner;
        }

        @Override
        public long inFeatures() {
            return inner.inFeatures();
        }

        @Override
        public long outFeatures() {
            return inner.outFeatures();
        }

        @Override
        public NDArray forward(NDArray x) {
            return inner.forward(x);
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    @Test
    void worksOnAnyBaseLinearAndRefusesToMergeIntoOne() {
        LinearFactory opaque = (module, in, out, w) -> new OpaqueLinear(LinearFactory.DENSE.create(module, in, out, w));
        try (MistralModel m =
                MistralModel.load(LoraFixtures.fixture("mistral-swa/f32"), Device.cpu(), DataType.FLOAT32, opaque)) {
            LoraAdapter.apply(m, LoraFixtures.fixture("lora/C-qv"), "qv");
            float[][] expected =
                    floats2(LoraFixtures.golden().get("adapters").get("C-qv").get("prompt_logits"));
            assertThat(maxAbsDiff(prefillAll(m, LoraFixtures.prompt()), expected))
                    .isLessThanOrEqualTo(1e-3);
            LoraAdapters lora = LoraAdapters.of(m);
            assertThatThrownBy(lora::merge)
                    .isInstanceOf(LoraException.class)
                    .hasMessageContaining("model.layers.0.self_attn.q_proj is a OpaqueLinear")
                    .hasMessageContaining("DenseLinear");
            assertThat(lora.merged()).isEmpty();
            assertThat(maxAbsDiff(prefillAll(m, LoraFixtures.prompt()), expected))
                    .isLessThanOrEqualTo(1e-3);
        }
    }

    /** Issue 7 trains A and B through this layer: gradients of sum(y) reach both, equal to the closed forms. */
    @Test
    void gradientsFlowToAAndB() {
        int n = 3;
        try (MistralModel m = LoraFixtures.modelC();
                NDManager manager = m.manager().newSubManager()) {
            LoraConfig config = LoraConfig.of(2, 3, 0.0, java.util.List.of("model.layers.0.self_attn.q_proj"));
            LoraAdapter adapter = LoraAdaptersTest.randomAdapter(m, "g", config, 9, 0.1f);
            LoraAdapters lora = LoraAdapters.of(m);
            lora.attach(adapter);
            lora.activate("g");
            LoraLinear[] layer = new LoraLinear[1];
            m.mapLinears((name, l) -> {
                if (l instanceof LoraLinear ll) {
                    layer[0] = ll;
                }
                return l;
            });
            LoraWeights lw = adapter.weights().get("model.layers.0.self_attn.q_proj");
            int in = (int) layer[0].inFeatures();
            int out = (int) layer[0].outFeatures();
            int r = lw.rank();
            double s = lw.scaling();
            assertThat(s).isEqualTo(1.5);
            float[] a = lw.a().toFloatArray();
            float[] b = lw.b().toFloatArray();
            float[] x = gaussian(new Random(3), n * in);
            lw.a().setRequiresGradient(true);
            lw.b().setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray y = layer[0].forward(manager.create(x, new Shape(n, in)));
                gc.backward(y.sum());
            }
            float[] gradA = lw.a().getGradient().toFloatArray();
            float[] gradB = lw.b().getGradient().toFloatArray();
            // L = sum(y): dL/dB[o,k] = s sum_i A[k,i] colX[i] and dL/dA[k,i] = s (sum_o B[o,k]) colX[i],
            // where colX[i] = sum over rows of x[row, i].
            double[] colX = new double[in];
            for (int row = 0; row < n; row++) {
                for (int i = 0; i < in; i++) {
                    colX[i] += x[row * in + i];
                }
            }
            for (int k = 0; k < r; k++) {
                double ax = 0;
                double bSum = 0;
                for (int i = 0; i < in; i++) {
                    ax += a[k * in + i] * colX[i];
                }
                for (int o = 0; o < out; o++) {
                    bSum += b[o * r + k];
                    assertThat((double) gradB[o * r + k])
                            .as("dL/dB[%d,%d]", o, k)
                            .isCloseTo(s * ax, within(1e-4));
                }
                for (int i = 0; i < in; i++) {
                    assertThat((double) gradA[k * in + i])
                            .as("dL/dA[%d,%d]", k, i)
                            .isCloseTo(s * bSum * colX[i], within(1e-4));
                }
            }
        }
    }

    @Test
    void dropoutOnlyInTrainingMode() {
        try (MistralModel m = LoraFixtures.modelC()) {
            LoraAdapters lora = LoraAdapters.of(m);
            LoraConfig config = LoraConfig.of(4, 8, 0.5, java.util.List.of("q_proj", "v_proj"));
            lora.attach(LoraAdaptersTest.randomAdapter(m, "drop", config, 5, 0.05f));
            lora.activate("drop");
            float[][] eval = prefillAll(m, LoraFixtures.prompt());
            lora.setTraining(true);
            float[][] train = prefillAll(m, LoraFixtures.prompt());
            lora.setTraining(false);
            assertThat(maxAbsDiff(train, eval))
                    .as("dropout 0.5 changes the output in training")
                    .isGreaterThan(1e-2);
            assertThat(maxAbsDiff(prefillAll(m, LoraFixtures.prompt()), eval))
                    .as("inference never drops")
                    .isZero();
        }
    }

    private static float[] gaussian(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return v;
    }
}
