package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import java.util.function.BiConsumer;

/** SwiGLU: {@code down_proj(silu(gate_proj(x)) * up_proj(x))}. */
final class Mlp implements AutoCloseable {
    private Linear gateProj;
    private Linear upProj;
    private Linear downProj;

    Mlp(Linear gateProj, Linear upProj, Linear downProj) {
        this.gateProj = gateProj;
        this.upProj = upProj;
        this.downProj = downProj;
    }

    /** The projections under their checkpoint names ({@code gate_proj}, {@code up_proj}, {@code down_proj}). */
    void forEachProjection(BiConsumer<String, Linear> f) {
        f.accept("gate_proj", gateProj);
        f.accept("up_proj", upProj);
        f.accept("down_proj", downProj);
    }

    void replace(String name, Linear linear) {
        switch (name) {
            case "gate_proj" -> gateProj = linear;
            case "up_proj" -> upProj = linear;
            case "down_proj" -> downProj = linear;
            default -> throw new IllegalArgumentException("no MLP projection " + name);
        }
    }

    NDArray forward(NDArray x, AdapterRows adapters) {
        NDArray gate = gateProj.forward(x, adapters);
        NDArray silu = gate.mul(Activation.sigmoid(gate));
        return downProj.forward(silu.mul(upProj.forward(x, adapters)), adapters);
    }

    @Override
    public void close() {
        gateProj.close();
        upProj.close();
        downProj.close();
    }
}
