package ai.medqa.finetune;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraWeights;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Gradient checkpointing: the LoRA gradients of a layer-by-layer recomputed backward pass equal
 * those of one plain backward pass through the whole model (model C, all seven projections adapted,
 * a batch with left padding, sliding window on).
 */
class CheckpointedBackwardTest {

    @Test
    void layerByLayerBackwardGivesThePlainGradients() throws Exception {
        try (MistralModel m = MistralModel.load(
                        Fixtures.resource("fixtures/mistral-swa/f32"),
                        Device.cpu(),
                        DataType.FLOAT32,
                        LinearFactory.DENSE);
                LoraAdapter adapter = LoraAdapter.apply(m, Fixtures.resource("fixtures/lora/C-all"), "all")) {
            List<NDArray> params = new ArrayList<>();
            for (LoraWeights w : adapter.weights().values()) {
                params.add(w.a());
                params.add(w.b());
            }
            params.forEach(p -> p.setRequiresGradient(true));
            NDManager manager = m.manager();
            int[] padLeft = {0, 3};
            long[] ids = new long[2 * 12];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = 1 + (i * 37) % 250;
            }
            float[][] plain;
            float[][] checkpointed;
            float plainLoss;
            float checkpointedLoss;
            try (NDScope scope = new NDScope()) {
                NDArray input = manager.create(ids, new Shape(2, 12));
                // A fixed random projection of the logits: every logit gets a gradient.
                NDArray r = manager.randomNormal(new Shape(2, 12, m.config().vocabSize()));
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray loss = m.forward(input, padLeft).mul(r).sum();
                    gc.backward(loss);
                    plainLoss = loss.getFloat();
                }
                plain = gradients(params);
                zero(params);
                checkpointedLoss = CheckpointedBackward.run(
                        m, input, padLeft, logits -> logits.mul(r).sum(), 7);
                checkpointed = gradients(params);
            }
            assertThat(checkpointedLoss).isCloseTo(plainLoss, org.assertj.core.data.Percentage.withPercentage(1e-4));
            for (int i = 0; i < plain.length; i++) {
                double scale = 0;
                double diff = 0;
                for (int j = 0; j < plain[i].length; j++) {
                    scale = Math.max(scale, Math.abs(plain[i][j]));
                    diff = Math.max(diff, Math.abs(plain[i][j] - checkpointed[i][j]));
                }
                assertThat(scale).as("gradient %d is not trivially zero", i).isGreaterThan(0);
                assertThat(diff / scale)
                        .as("gradient %d, relative to its largest entry", i)
                        .isLessThan(1e-4);
            }
        }
    }

    private static float[][] gradients(List<NDArray> params) {
        float[][] g = new float[params.size()][];
        for (int i = 0; i < g.length; i++) {
            try (NDArray grad = params.get(i).getGradient()) {
                g[i] = grad.toFloatArray();
            }
        }
        return g;
    }

    private static void zero(List<NDArray> params) {
        for (NDArray p : params) {
            try (NDArray grad = p.getGradient()) {
                grad.subi(grad);
            }
        }
    }
}
