package ai.medqa.finetune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code torch.optim.AdamW} (amsgrad off, the single-tensor path PyTorch takes on CPU), updating the
 * parameters in place. Per parameter, with step count s:
 * <pre>
 *   p   *= 1 - lr * weight_decay              (decoupled weight decay)
 *   m    = lerp(m, g, 1 - beta1)
 *   v    = beta2 * v + (1 - beta2) * g * g
 *   p   -= lr / (1 - beta1^s) * m / (sqrt(v) / sqrt(1 - beta2^s) + eps)
 * </pre>
 * Must be called outside a gradient collector: the update is not part of the graph.
 */
final class AdamW implements AutoCloseable {
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final NDManager manager;
    private final List<NDArray> expAvg = new ArrayList<>();
    private final List<NDArray> expAvgSq = new ArrayList<>();
    private long step;

    AdamW(List<NDArray> params, double beta1, double beta2, double eps, double weightDecay, NDManager parent) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.manager = parent.newSubManager();
        for (NDArray p : params) {
            expAvg.add(keep(manager.zeros(p.getShape(), p.getDataType(), p.getDevice())));
            expAvgSq.add(keep(manager.zeros(p.getShape(), p.getDataType(), p.getDevice())));
        }
    }

    private static NDArray keep(NDArray a) {
        // Optimizer state lives as long as the optimizer, not as long as a caller's NDScope.
        NDScope.unregister(a);
        return a;
    }

    /** One update of every parameter from its current gradient. */
    void step(List<NDArray> params, double lr) {
        step++;
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
        double stepSize = lr / bc1;
        try (NDScope scope = new NDScope()) {
            for (int i = 0; i < params.size(); i++) {
                NDArray p = params.get(i);
                NDArray g = p.getGradient();
                NDArray m = expAvg.get(i);
                NDArray v = expAvgSq.get(i);
                if (weightDecay != 0) {
                    p.muli(1 - lr * weightDecay);
                }
                // torch's lerp with weight < 0.5: m + w (g - m)
                m.addi(g.sub(m).muli(1 - beta1));
                v.muli(beta2).addi(g.mul(g).muli(1 - beta2));
                NDArray denom = v.sqrt().divi(bc2Sqrt).addi(eps);
                p.subi(m.div(denom).muli(stepSize));
            }
        }
    }

    long steps() {
        return step;
    }

    List<NDArray> expAvg() {
        return expAvg;
    }

    List<NDArray> expAvgSq() {
        return expAvgSq;
    }

    /** Restores a checkpoint's state: moments as float32 values, in parameter order. */
    void restore(long steps, List<float[]> m, List<float[]> v) {
        if (m.size() != expAvg.size() || v.size() != expAvgSq.size()) {
            throw new IllegalArgumentException(
                    "optimizer state for " + m.size() + " parameters, expected " + expAvg.size());
        }
        for (int i = 0; i < m.size(); i++) {
            expAvg.get(i).set(m.get(i));
            expAvgSq.get(i).set(v.get(i));
        }
        this.step = steps;
    }

    @Override
    public void close() {
        manager.close();
    }
}
