package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/** SwiGLU: {@code down_proj(silu(gate_proj(x)) * up_proj(x))}. */
final class Mlp implements AutoCloseable {
    Linear gateProj;
    Linear upProj;
    Linear downProj;

    Mlp(Linear gateProj, Linear upProj, Linear downProj) {
        this.gateProj = gateProj;
        this.upProj = upProj;
        this.downProj = downProj;
    }

    NDArray forward(NDArray x) {
        NDArray gate = gateProj.forward(x);
        NDArray silu = gate.mul(Activation.sigmoid(gate));
        return downProj.forward(silu.mul(upProj.forward(x)));
    }

    @Override
    public void close() {
        gateProj.close();
        upProj.close();
        downProj.close();
    }
}
