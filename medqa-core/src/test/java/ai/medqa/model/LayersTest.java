package ai.medqa.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

/**
 * The layer view medqa-finetune's checkpointed backward is built on: embed, each layer, then the
 * final norm and {@code lm_head}, composed in order, is the training forward bit for bit (model C:
 * sliding window, a left-padded row).
 */
class LayersTest {

    @Test
    void layersComposedAreTheTrainingForward() {
        try (MistralModel m = MistralModel.load(
                        Golden.fixture("mistral-swa/f32"), Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE);
                NDScope scope = new NDScope()) {
            int[] padLeft = {0, 3};
            long[] ids = new long[2 * 12];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = 1 + (i * 37) % 250;
            }
            NDArray input = m.manager().create(ids, new Shape(2, 12));
            MistralModel.Layers layers = m.layers();
            MistralModel.Layers.Inputs in = layers.inputs(input, padLeft);
            NDArray x = layers.embed(input);
            for (int l = 0; l < layers.count(); l++) {
                x = layers.layer(l, x, in);
            }
            float[] composed = layers.logits(x).toFloatArray();
            float[] whole = m.forward(input, padLeft).toFloatArray();
            assertThat(layers.count()).isEqualTo(m.config().numHiddenLayers());
            assertThat(composed).containsExactly(whole);
        }
    }
}
