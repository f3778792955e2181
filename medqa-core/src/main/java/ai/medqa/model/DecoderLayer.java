package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/** Pre-norm residual block: {@code h = x + attn(norm(x)); out = h + mlp(norm(h))}. */
final class DecoderLayer implements AutoCloseable {
    final RmsNorm inputLayernorm;
    final Attention selfAttn;
    final RmsNorm postAttentionLayernorm;
    final Mlp mlp;

    DecoderLayer(RmsNorm inputLayernorm, Attention selfAttn, RmsNorm postAttentionLayernorm, Mlp mlp) {
        this.inputLayernorm = inputLayernorm;
        this.selfAttn = selfAttn;
        this.postAttentionLayernorm = postAttentionLayernorm;
        this.mlp = mlp;
    }

    NDArray forward(
            NDArray x,
            Rope rope,
            NDList cosSin,
            NDArray bias,
            KvCache cache,
            int layer,
            int start,
            int from,
            AdapterRows adapters) {
        NDArray h = x.add(
                selfAttn.forward(inputLayernorm.forward(x), rope, cosSin, bias, cache, layer, start, from, adapters));
        return h.add(mlp.forward(postAttentionLayernorm.forward(h), adapters));
    }

    @Override
    public void close() {
        inputLayernorm.close();
        selfAttn.close();
        postAttentionLayernorm.close();
        mlp.close();
    }
}
