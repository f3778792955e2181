package ai.medqa.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import ai.medqa.model.AdapterRows;
import ai.medqa.model.DenseLinear;
import ai.medqa.model.Linear;
import ai.medqa.model.internal.DecoderStep;
import ai.medqa.model.internal.FusedProjection;
import ai.medqa.model.internal.Ops;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A projection with LoRA adapters: {@code y = base(x) + scaling * (x A^T) B^T} for each row's
 * adapter ({@link AdapterRows}; the active one unless a call says), as PEFT's {@code lora.Linear} computes it ({@code lora_B(lora_A(dropout(x))) * scaling},
 * in float32, the sum cast back to the base's dtype). The base may be any {@link Linear}: dense
 * F32/F16 or quantized, since only its {@code forward} is called.
 *
 * <p>Holds every loaded adapter that targets this module, so switching adapters between requests
 * changes one field and reloads nothing. Created and driven by {@link LoraAdapters}; the state
 * (active, merged, training) is one {@link LoraState} shared by every LoraLinear of a model.
 *
 * <p>Calls that name their rows' adapters read no state; a call on {@link AdapterRows#ACTIVE}
 * running while another thread switches the active adapter may use different adapters in
 * different layers: switch between requests.
 */
final class LoraLinear implements Linear {
    private final String module;
    private final Linear base;
    private final Map<String, Entry> adapters = new LinkedHashMap<>();
    private final LoraState state;

    /** An adapter's weights here, its id in the model, and its dropout (applied only in training). */
    private record Entry(LoraAdapter adapter, LoraWeights weights, float dropout, int id) {}

    LoraLinear(String module, Linear base, LoraState state) {
        this.module = module;
        this.base = base;
        this.state = state;
    }

    /** The module this replaces in the model, e.g. {@code model.layers.0.self_attn.q_proj}. */
    public String module() {
        return module;
    }

    /** The wrapped projection. After {@link LoraAdapters#merge()} its weights include the merged adapter. */
    public Linear base() {
        return base;
    }

    /** Names of the adapters that adapt this module. */
    public Set<String> adapterNames() {
        return Set.copyOf(adapters.keySet());
    }

    @Override
    public long inFeatures() {
        return base.inFeatures();
    }

    @Override
    public long outFeatures() {
        return base.outFeatures();
    }

    @Override
    public NDArray forward(NDArray x) {
        return forward(x, AdapterRows.ACTIVE);
    }

    /**
     * The base's output plus each row's adapter delta, with {@link AdapterRows#ACTIVE} the active
     * adapter's for every row. Inference runs the fused step's own product ({@code project} on
     * {@link #fused()}), so both paths agree to the bit; while gradients are recorded (training) the
     * active adapter's delta is formed with differentiable DJL operations, with its dropout.
     */
    @Override
    public NDArray forward(NDArray x, AdapterRows rows) {
        if (!rows.active() && rows.size() != x.getShape().get(0)) {
            throw new IllegalArgumentException(
                    module + ": " + x.getShape().get(0) + " rows but adapters for " + rows.size());
        }
        FusedProjection form = JniUtils.isGradMode() ? null : fused();
        if (form instanceof FusedProjection.WithLora) {
            int[] ids = new int[(int) x.getShape().get(0)];
            for (int r = 0; r < ids.length; r++) {
                ids[r] = rows.active() ? state.activeId() : rows.id(r);
            }
            return DecoderStep.project(x, form, ids);
        }
        NDArray y = base.forward(x);
        if (state.merged != null) {
            return y; // the merged adapter is in the base weights
        }
        if (!rows.active()) {
            throw new IllegalStateException(module + ": adapters per row need the fused step's form (no gradients, no "
                    + "dropout, a base with a fused form)");
        }
        Entry e = state.active == null ? null : adapters.get(state.active);
        if (e == null) {
            return y; // no adapter active here
        }
        NDArray in = x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
        if (state.training && e.dropout() > 0) {
            in = Ops.dropout(in, e.dropout());
        }
        NDArray delta = delta(in, e.weights());
        if (y.getDataType() == DataType.FLOAT32) {
            return y.add(delta);
        }
        return y.toType(DataType.FLOAT32, false).add(delta).toType(y.getDataType(), false);
    }

    /** {@code scaling * (in A^T) B^T} in float32. */
    private static NDArray delta(NDArray in, LoraWeights w) {
        NDArray down = Ops.linear(in, w.a());
        NDArray up = Ops.linear(down, w.b());
        // Not up.mul(double): DJL makes the number a scalar tensor over Java memory and frees it at once,
        // while autograd keeps it for the backward pass, which then reads freed memory after a GC. This
        // scalar belongs to the caller's NDScope, like every other array of the forward pass.
        NDArray scaling = up.getManager().create((float) w.scaling()).toDevice(up.getDevice(), false);
        return up.mul(scaling);
    }

    /**
     * The base's form with every adapter attached here (each call's rows pick theirs), or the base
     * alone while one is merged (merged weights are plain base weights); null when the base has none,
     * or in training with dropout (drawn op by op).
     */
    @Override
    public FusedProjection fused() {
        FusedProjection b = base.fused();
        if (b == null || state.merged != null || adapters.isEmpty()) {
            return b;
        }
        if (state.training && adapters.values().stream().anyMatch(e -> e.dropout() > 0)) {
            return null;
        }
        List<FusedProjection.Lora> forms = new ArrayList<>();
        for (Entry e : adapters.values()) {
            forms.add(new FusedProjection.Lora(
                    e.id(), e.weights().a(), e.weights().b(), (float)
                            e.weights().scaling()));
        }
        return new FusedProjection.WithLora(b, forms);
    }

    /** Closes the base projection; adapter weights belong to their {@link LoraAdapter}. */
    @Override
    public void close() {
        base.close();
    }

    @Override
    public String toString() {
        return "LoraLinear[" + module + ", adapters " + adapters.keySet() + ", active " + state.active
                + (state.merged != null ? ", merged " + state.merged : "") + ", base "
                + base.getClass().getSimpleName() + "]";
    }

    void add(LoraAdapter adapter, LoraWeights weights) {
        adapters.put(
                adapter.name(),
                new Entry(adapter, weights, (float) adapter.config().loraDropout(), state.assign(adapter.name())));
    }

    Map<String, LoraAdapter> adapterEntries() {
        Map<String, LoraAdapter> out = new LinkedHashMap<>();
        adapters.forEach((name, e) -> out.put(name, e.adapter()));
        return out;
    }

    /** The state this layer shares with the model's other LoRA layers. */
    LoraState state() {
        return state;
    }

    /** Removes an adapter; true if none is left, so the caller can unwrap the base. */
    boolean remove(String name) {
        adapters.remove(name);
        return adapters.isEmpty();
    }

    boolean has(String name) {
        return adapters.containsKey(name);
    }

    /** Why this module's base cannot take merged weights, or null if it can. */
    String mergeBlocker(String name) {
        if (!adapters.containsKey(name) || base instanceof DenseLinear) {
            return null;
        }
        return module + " is a " + base.getClass().getSimpleName()
                + "; merging needs a full-precision DenseLinear (F32 or F16) base";
    }

    /**
     * {@code W += scaling B A}. The sum is formed in float32 and rounded once to the weight's dtype
     * (PEFT on CPU rounds the delta to F16 first, then adds: one rounding more).
     */
    void mergeWeights(String name) {
        Entry e = adapters.get(name);
        if (e != null) {
            update(e.weights(), 1);
        }
    }

    /**
     * {@code W -= scaling B A}. Exact only up to rounding: in F32 the restored weights differ from
     * the originals by at most about one float32 ulp of the merged values; in F16 by up to one F16
     * ulp (2^-10 relative), because the merged F16 weights have already lost the low bits of W.
     */
    void unmergeWeights(String name) {
        Entry e = adapters.get(name);
        if (e != null) {
            update(e.weights(), -1);
        }
    }

    private void update(LoraWeights w, int sign) {
        NDArray weight = ((DenseLinear) base).weight();
        DataType dtype = weight.getDataType();
        try (NDScope scope = new NDScope()) {
            NDArray delta = w.delta().toDevice(weight.getDevice(), false);
            NDArray w32 = weight.toType(DataType.FLOAT32, false);
            NDArray sum = sign > 0 ? w32.add(delta) : w32.sub(delta);
            NDArray updated = sum.toType(dtype, false);
            if (updated == weight) {
                throw new IllegalStateException("an arithmetic result aliases the weight");
            }
            // Swap the native tensor behind the weight array: every holder of the array sees the new values.
            weight.intern(updated);
        }
    }
}
