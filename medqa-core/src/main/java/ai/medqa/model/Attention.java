package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import java.util.function.BiConsumer;

/**
 * Grouped-query self-attention as in transformers' {@code MistralAttention}: RoPE on q and k,
 * {@code softmax(q k^T / sqrt(d) + mask)} in float32, and {@code num_attention_heads /
 * num_key_value_heads} query heads sharing each key/value head.
 */
final class Attention implements AutoCloseable {
    private Linear qProj;
    private Linear kProj;
    private Linear vProj;
    private Linear oProj;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final float scale;

    Attention(MistralConfig config, Linear qProj, Linear kProj, Linear vProj, Linear oProj) {
        this.qProj = qProj;
        this.kProj = kProj;
        this.vProj = vProj;
        this.oProj = oProj;
        this.heads = config.numAttentionHeads();
        this.kvHeads = config.numKeyValueHeads();
        this.headDim = config.headDim();
        this.scale = (float) (1.0 / Math.sqrt(headDim));
    }

    /** The projections under their checkpoint names ({@code q_proj}, {@code k_proj}, {@code v_proj}, {@code o_proj}). */
    void forEachProjection(BiConsumer<String, Linear> f) {
        f.accept("q_proj", qProj);
        f.accept("k_proj", kProj);
        f.accept("v_proj", vProj);
        f.accept("o_proj", oProj);
    }

    void replace(String name, Linear linear) {
        switch (name) {
            case "q_proj" -> qProj = linear;
            case "k_proj" -> kProj = linear;
            case "v_proj" -> vProj = linear;
            case "o_proj" -> oProj = linear;
            default -> throw new IllegalArgumentException("no attention projection " + name);
        }
    }

    /**
     * @param x {@code [B, T, hidden]}
     * @param rope cos and sin for the T positions
     * @param bias additive float32 mask {@code [B, 1, 1, T, keys]}, or null when every key in
     *     {@code [from, start + T)} is visible to the single query
     * @param cache null to attend within {@code x} only (training); else keys/values are appended at
     *     slot {@code start} and read back from slot {@code from}
     * @param adapters the LoRA adapter of each row
     */
    NDArray forward(
            NDArray x,
            Rope ropeTables,
            NDList rope,
            NDArray bias,
            KvCache cache,
            int layer,
            int start,
            int from,
            AdapterRows adapters) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        NDArray q = qProj.forward(x, adapters).reshape(b, t, heads, headDim).transpose(0, 2, 1, 3);
        NDArray k = kProj.forward(x, adapters).reshape(b, t, kvHeads, headDim).transpose(0, 2, 1, 3);
        NDArray v = vProj.forward(x, adapters).reshape(b, t, kvHeads, headDim).transpose(0, 2, 1, 3);
        q = ropeTables.apply(q, rope);
        k = ropeTables.apply(k, rope);
        if (cache != null) {
            cache.put(layer, start, k, v);
            k = cache.keys(layer, from, start + (int) t);
            v = cache.values(layer, from, start + (int) t);
        }
        long keys = k.getShape().get(2);
        int groups = heads / kvHeads;
        // Query heads h = kv * groups + g share key head kv (transformers' repeat_kv order); folding
        // the groups into the row axis lets one matmul serve them all without copying K and V.
        NDArray qg = q.reshape(b, kvHeads, groups * t, headDim);
        NDArray raw = qg.matMul(k.transpose(0, 1, 3, 2));
        // An array, not mul(float): training keeps this factor for the backward pass, and DJL frees the
        // scalar it makes from a Java number as soon as mul returns (see LoraLinear.forward).
        NDArray scores = raw.mul(raw.getManager().create(scale).toDevice(raw.getDevice(), false));
        DataType dtype = scores.getDataType();
        if (dtype != DataType.FLOAT32) {
            scores = scores.toType(DataType.FLOAT32, false);
        }
        if (bias != null) {
            scores = scores.reshape(b, kvHeads, groups, t, keys).add(bias).reshape(b, kvHeads, groups * t, keys);
        }
        NDArray probs = scores.softmax(-1);
        if (dtype != DataType.FLOAT32) {
            probs = probs.toType(dtype, false);
        }
        NDArray out = probs.matMul(v) // [B, kv, groups*T, d] = [B, heads, T, d]
                .reshape(b, heads, t, headDim)
                .transpose(0, 2, 1, 3)
                .reshape(b, t, (long) heads * headDim);
        return oProj.forward(out, adapters);
    }

    @Override
    public void close() {
        qProj.close();
        kProj.close();
        vProj.close();
        oProj.close();
    }
}
