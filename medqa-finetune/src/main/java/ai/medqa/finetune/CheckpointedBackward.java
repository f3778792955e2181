package ai.medqa.finetune;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.training.GradientCollector;
import ai.medqa.common.Seeds;
import ai.medqa.model.MistralModel;
import java.util.function.Function;

/**
 * Forward and backward over whole sequences with per-layer recomputation (gradient checkpointing),
 * for training adapters on a large frozen base: the layers first run without recording (keeping only
 * each layer's input), then the loss is backpropagated one layer at a time from the top, recomputing
 * that layer with recording on. Peak memory holds one layer's activations (and, for a quantized base,
 * one layer's dequantized weights) instead of all of them; the gradients that accumulate on the
 * trainable arrays (LoRA A and B) are the same as a plain backward pass through
 * {@link MistralModel#forward(NDArray, int[])}.
 */
final class CheckpointedBackward {
    private CheckpointedBackward() {}

    /**
     * Call it outside any gradient collector and inside an {@code NDScope}. Random operations (LoRA
     * dropout) are re-seeded per layer from {@code seed}, so the recomputation draws the same masks as
     * the first pass.
     *
     * @param loss maps float32 logits {@code [B, T, vocab]} to the scalar to differentiate
     * @return the loss value
     */
    static float run(MistralModel model, NDArray inputIds, int[] padLeft, Function<NDArray, NDArray> loss, long seed) {
        MistralModel.Layers layers = model.layers();
        MistralModel.Layers.Inputs in = layers.inputs(inputIds, padLeft);
        NDArray[] inputs = forwardKeepingInputs(layers, in, inputIds, seed);
        NDArray top = inputs[layers.count()];
        top.setRequiresGradient(true);
        float value;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray l = loss.apply(layers.logits(top));
            gc.backward(l);
            value = l.getFloat();
        }
        backwardLayerByLayer(layers, in, inputs, top.getGradient(), seed);
        return value;
    }

    /** The first pass, unrecorded: element l is layer l's input, the last the top layer's output. */
    private static NDArray[] forwardKeepingInputs(
            MistralModel.Layers layers, MistralModel.Layers.Inputs in, NDArray inputIds, long seed) {
        NDArray[] inputs = new NDArray[layers.count() + 1];
        inputs[0] = layers.embed(inputIds);
        for (int l = 0; l < layers.count(); l++) {
            Engine.getInstance().setRandomSeed(layerSeed(seed, l));
            inputs[l + 1] = layers.layer(l, inputs[l], in);
        }
        return inputs;
    }

    /** Recomputes each layer from the top with recording on and pushes {@code upstream} through it. */
    private static void backwardLayerByLayer(
            MistralModel.Layers layers, MistralModel.Layers.Inputs in, NDArray[] inputs, NDArray upstream, long seed) {
        Engine engine = Engine.getInstance();
        for (int l = layers.count() - 1; l >= 0; l--) {
            NDArray x = inputs[l];
            x.setRequiresGradient(true);
            try (GradientCollector gc = engine.newGradientCollector()) {
                engine.setRandomSeed(layerSeed(seed, l));
                NDArray out = layers.layer(l, x, in);
                // d/d(x) of sum(out * upstream) is the chain rule's vector-Jacobian product.
                gc.backward(out.mul(upstream).sum());
            }
            upstream = l > 0 ? x.getGradient() : null;
        }
    }

    private static int layerSeed(long seed, int layer) {
        return (int) Seeds.mix(seed, layer);
    }
}
