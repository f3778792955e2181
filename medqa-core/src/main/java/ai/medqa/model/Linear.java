package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.medqa.model.internal.FusedProjection;

/**
 * {@code y = x W^T} for one projection of the model ({@code q_proj}, {@code gate_proj}, ...).
 *
 * <p>The one seam where weight formats plug in: dense F32/F16 weights, BF16, INT4, INT8 and NF4
 * blocks, and LoRA adapters (a decorator adding {@code (alpha/r) B A x}) all implement it, so the
 * forward pass never knows how a weight is stored. A kind that adapters may train on uses
 * differentiable DJL operations on the input under gradients, so that they flow to adapter
 * parameters (dense, INT8, NF4); one without a backward (INT4, BF16) throws
 * {@link UnsupportedOperationException} while gradients are recorded.
 */
public interface Linear extends AutoCloseable {

    /** Input features: the last dimension of {@code x}. */
    long inFeatures();

    /** Output features: the last dimension of the result. */
    long outFeatures();

    /** Maps {@code x [..., in]} to {@code [..., out]} in the compute dtype of {@code x}. */
    NDArray forward(NDArray x);

    /**
     * As {@link #forward(NDArray)}, for {@code x [B, ...]} whose rows use the LoRA adapters
     * {@code rows} gives; only projections with adapters look at them.
     */
    default NDArray forward(NDArray x, AdapterRows rows) {
        return forward(x);
    }

    /**
     * This projection as the fused decoder step multiplies it, or null if the step cannot (the
     * model then runs every layer op by op and logs why). The result reflects the current state
     * (an active adapter, merged weights) and is asked again before each step.
     */
    default FusedProjection fused() {
        return null;
    }

    /** Releases the native memory of the weights. */
    @Override
    void close();
}
