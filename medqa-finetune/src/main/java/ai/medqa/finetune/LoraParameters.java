package ai.medqa.finetune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraWeights;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The trainable parameters of one adapter, every {@code lora_A} and {@code lora_B} in model order,
 * with PEFT's names. The base model's weights never require gradients, so it stays frozen.
 */
final class LoraParameters {
    private final List<String> names = new ArrayList<>();
    private final List<NDArray> params = new ArrayList<>();

    LoraParameters(LoraAdapter adapter) {
        for (LoraWeights w : adapter.weights().values()) {
            names.add("base_model.model." + w.module() + ".lora_A.weight");
            params.add(w.a());
            names.add("base_model.model." + w.module() + ".lora_B.weight");
            params.add(w.b());
        }
        requireGradients();
    }

    /** Any named float32 arrays (tests; other trainable parameters). */
    LoraParameters(List<String> names, List<NDArray> arrays) {
        this.names.addAll(names);
        this.params.addAll(arrays);
        requireGradients();
    }

    private void requireGradients() {
        for (NDArray p : params) {
            p.setRequiresGradient(true);
        }
    }

    List<String> names() {
        return Collections.unmodifiableList(names);
    }

    List<NDArray> arrays() {
        return Collections.unmodifiableList(params);
    }

    /**
     * {@code torch.nn.utils.clip_grad_norm_(params, maxNorm)}: the 2-norm of all gradients together
     * (the norm of the per-tensor norms), and, when {@code maxNorm > 0}, every gradient multiplied by
     * {@code min(1, maxNorm / (norm + 1e-6))}. Returns the norm before clipping.
     *
     * @throws IllegalStateException if the norm is not finite (the run diverged)
     */
    double clipGradNorm(double maxNorm) {
        try (NDScope scope = new NDScope()) {
            NDList norms = new NDList();
            for (NDArray p : params) {
                norms.add(p.getGradient().norm().reshape(1));
            }
            NDArray total = NDArrays.concat(norms).norm();
            float norm = total.getFloat();
            if (!Float.isFinite(norm)) {
                throw new IllegalStateException("the gradient norm is " + norm
                        + ": training diverged (lower the learning rate or enable clipping)");
            }
            if (maxNorm > 0) {
                // float32 arithmetic as torch's: max_norm / (total_norm + 1e-6), clamped to 1
                float coef = Math.min(1f, (float) maxNorm / (norm + 1e-6f));
                for (NDArray p : params) {
                    p.getGradient().muli(coef);
                }
            }
            return norm;
        }
    }

    /** Sets every gradient to zero, as {@code optimizer.zero_grad(set_to_none=False)}. */
    void zeroGradients() {
        try (NDScope scope = new NDScope()) {
            for (NDArray p : params) {
                if (p.hasGradient()) {
                    NDArray g = p.getGradient();
                    g.subi(g); // finite here: clipGradNorm refuses non-finite gradients first
                }
            }
        }
    }
}
