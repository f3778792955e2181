package ai.medqa.lora;

import ai.djl.ndarray.NDArray;

/**
 * One adapted projection: {@code A [r, in]} and {@code B [out, r]} as float32 DJL arrays, and the
 * scaling PEFT gives the module. The arrays are the parameters themselves (training attaches
 * gradients to them and updates them in place); they belong to their {@link LoraAdapter}.
 */
public final class LoraWeights {
    private final String module;
    private final NDArray a;
    private final NDArray b;
    private final double scaling;

    LoraWeights(String module, NDArray a, NDArray b, double scaling) {
        this.module = module;
        this.a = a;
        this.b = b;
        this.scaling = scaling;
    }

    /** The module this adapts, e.g. {@code model.layers.0.self_attn.q_proj}. */
    public String module() {
        return module;
    }

    /** {@code lora_A}: {@code [r, in]}, float32. */
    public NDArray a() {
        return a;
    }

    /** {@code lora_B}: {@code [out, r]}, float32. */
    public NDArray b() {
        return b;
    }

    public double scaling() {
        return scaling;
    }

    public int rank() {
        return (int) a.getShape().get(0);
    }

    /** {@code scaling * B A}, {@code [out, in]} float32, in PEFT's order of operations; caller closes it. */
    NDArray delta() {
        try (NDArray ba = b.matMul(a)) {
            return ba.mul(scaling);
        }
    }
}
