package ai.medqa.model;

/**
 * Builds the projection stored under {@code module + ".weight"} (for example
 * {@code model.layers.0.self_attn.q_proj}); the hook through which quantized formats load.
 */
@FunctionalInterface
public interface LinearFactory {

    /** Dense weights in the compute dtype. */
    LinearFactory DENSE = (module, in, out, weights) -> new DenseLinear(weights.load(module + ".weight", out, in));

    Linear create(String module, long inFeatures, long outFeatures, Weights weights);

    /**
     * {@code lm_head} of a model whose head is tied to the embedding {@code embedding + ".weight"}
     * ({@code [outFeatures, inFeatures]}), as a projection of its own (a quantized copy), or null to
     * multiply by the embedding itself (the default).
     */
    default Linear tiedHead(String embedding, long inFeatures, long outFeatures, Weights weights) {
        return null;
    }
}
