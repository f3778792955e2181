package ai.medqa.lora;

import ai.medqa.model.MistralConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * One projection of the model, by the module name PEFT matches against ({@code
 * model.layers.0.self_attn.q_proj}, {@code lm_head}) and its weight's {@code [out, in]} shape.
 * Computed from the config alone, so counts need no weights.
 */
record Projection(String module, long in, long out) {

    /** Every projection in {@link ai.medqa.model.MistralModel#mapLinears} order: layers, then lm_head. */
    static List<Projection> of(MistralConfig c) {
        long h = c.hiddenSize();
        long q = (long) c.numAttentionHeads() * c.headDim();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long inter = c.intermediateSize();
        List<Projection> all = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            all.add(new Projection(p + "self_attn.q_proj", h, q));
            all.add(new Projection(p + "self_attn.k_proj", h, kv));
            all.add(new Projection(p + "self_attn.v_proj", h, kv));
            all.add(new Projection(p + "self_attn.o_proj", q, h));
            all.add(new Projection(p + "mlp.gate_proj", h, inter));
            all.add(new Projection(p + "mlp.up_proj", h, inter));
            all.add(new Projection(p + "mlp.down_proj", inter, h));
        }
        all.add(new Projection("lm_head", h, c.vocabSize()));
        return all;
    }
}
