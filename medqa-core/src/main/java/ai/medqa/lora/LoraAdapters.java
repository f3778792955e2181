package ai.medqa.lora;

import ai.medqa.model.AdapterRows;
import ai.medqa.model.Linear;
import ai.medqa.model.MistralModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The LoRA adapters of one model: load several, switch the active one per request, merge the
 * active one into the base weights and back, remove.
 *
 * <p>A view, not a store: all state lives in the model's {@link LoraLinear} projections (installed
 * through {@link MistralModel#mapLinears}), so {@link #of} may be called any number of times and
 * every view agrees. Not thread-safe: change adapters between requests.
 *
 * <pre>{@code
 * LoraAdapters lora = LoraAdapters.of(model);
 * lora.load(Path.of("adapters/pubmedqa"), "pubmedqa");
 * lora.load(Path.of("adapters/chat"), "chat");
 * lora.activate("pubmedqa");   // requests now use pubmedqa
 * lora.activate(null);         // the base model alone
 * }</pre>
 */
public final class LoraAdapters {
    private static final Logger log = LoggerFactory.getLogger(LoraAdapters.class);

    private final MistralModel model;

    private LoraAdapters(MistralModel model) {
        this.model = model;
    }

    public static LoraAdapters of(MistralModel model) {
        return new LoraAdapters(model);
    }

    /**
     * Reads the PEFT adapter in {@code dir} and attaches it under {@code name}; it is not activated
     * (unless you call {@link #activate}).
     */
    public LoraAdapter load(Path dir, String name) {
        requireNew(name);
        LoraAdapter adapter = LoraAdapter.read(model, dir, name);
        try {
            attach(adapter);
        } catch (RuntimeException e) {
            adapter.close();
            throw e;
        }
        return adapter;
    }

    /**
     * Attaches an adapter built for this model ({@link LoraAdapter#create}, {@link
     * LoraAdapter#fromTensors}): wraps each projection it targets, sharing its arrays (no copy).
     * The model now owns it: {@link #remove} closes it.
     */
    public void attach(LoraAdapter adapter) {
        String name = adapter.name();
        requireNew(name);
        // Checked whole before anything is wrapped: a bad adapter leaves the model as it was.
        Set<String> found = new HashSet<>();
        model.mapLinears((module, linear) -> {
            LoraWeights w = adapter.weights().get(module);
            if (w != null) {
                found.add(module);
                if (linear.inFeatures() != w.a().getShape().get(1)
                        || linear.outFeatures() != w.b().getShape().get(0)) {
                    throw new LoraException("adapter " + name + ": " + module + " is [" + linear.outFeatures() + ", "
                            + linear.inFeatures() + "] in the model but the adapter has A " + w.a().getShape()
                            + " and B " + w.b().getShape());
                }
            }
            return linear;
        });
        if (found.size() != adapter.weights().size()) {
            Set<String> missing = new TreeSet<>(adapter.weights().keySet());
            missing.removeAll(found);
            throw new LoraException("adapter " + name + " targets modules this model does not have: " + missing);
        }
        LoraState state = state().orElseGet(LoraState::new);
        model.activeAdapterSource(state::activeId);
        int[] wrapped = {0};
        model.mapLinears((module, linear) -> {
            LoraWeights w = adapter.weights().get(module);
            if (w == null) {
                return linear;
            }
            if (linear.inFeatures() != w.a().getShape().get(1)
                    || linear.outFeatures() != w.b().getShape().get(0)) {
                throw new LoraException("adapter " + name + ": " + module + " is [" + linear.outFeatures() + ", "
                        + linear.inFeatures() + "] in the model but the adapter has A " + w.a().getShape()
                        + " and B " + w.b().getShape());
            }
            LoraLinear l = linear instanceof LoraLinear ll ? ll : new LoraLinear(module, linear, state);
            l.add(adapter, w);
            wrapped[0]++;
            return l;
        });
        log.info("attached LoRA adapter {} to {} projections", name, wrapped[0]);
    }

    /**
     * Makes {@code name} the adapter every following forward pass uses; {@code null} for the base
     * model alone. If another adapter is merged it is unmerged first, as PEFT's {@code set_adapter}
     * does (see {@link #unmerge()} for the rounding this implies on F16 weights).
     */
    public void activate(String name) {
        if (name != null && !adapters().containsKey(name)) {
            throw new LoraException("no adapter named " + name + " is loaded (loaded: "
                    + adapters().keySet() + ")");
        }
        Optional<String> merged = merged();
        if (merged.isPresent() && !merged.get().equals(name)) {
            log.warn("unmerging adapter {} to activate {}", merged.get(), name);
            unmerge();
        }
        state().ifPresent(s -> s.active = name);
    }

    public Optional<String> active() {
        return state().map(s -> s.active);
    }

    /**
     * The id rows name adapter {@code name} by in {@link ai.medqa.model.AdapterRows} ({@code null}:
     * {@link ai.medqa.model.AdapterRows#NONE_ID}, the base model alone).
     *
     * @throws LoraException for an adapter that is not loaded, or while an adapter is merged (its
     *     weights are then in the base, for every row)
     */
    public int id(String name) {
        Optional<String> merged = merged();
        if (merged.isPresent()) {
            throw new LoraException("adapter " + merged.get() + " is merged into the base weights: unmerge it to pick "
                    + "adapters per row");
        }
        if (name == null) {
            return AdapterRows.NONE_ID;
        }
        Integer id = state().map(s -> s.ids.get(name)).orElse(null);
        if (id == null || !adapters().containsKey(name)) {
            throw new LoraException("no adapter named " + name + " is loaded (loaded: "
                    + adapters().keySet() + ")");
        }
        return id;
    }

    /** Loaded adapters by name, in load order. */
    public Map<String, LoraAdapter> adapters() {
        Map<String, LoraAdapter> out = new LinkedHashMap<>();
        for (LoraLinear l : layers()) {
            l.adapterEntries().forEach(out::putIfAbsent);
        }
        return out;
    }

    /**
     * Adds the active adapter into the base weights ({@code W += scaling B A}) so that forward passes
     * cost no more than the base model's. Every adapted projection must be a full-precision {@link
     * ai.medqa.model.DenseLinear}; nothing is changed if one is not.
     */
    public void merge() {
        String name = active().orElseThrow(() -> new LoraException("no active adapter to merge"));
        Optional<String> merged = merged();
        if (merged.isPresent()) {
            return; // activate() unmerges any other adapter, so the merged one is the active one
        }
        List<LoraLinear> layers = layers();
        for (LoraLinear l : layers) {
            String blocker = l.mergeBlocker(name);
            if (blocker != null) {
                throw new LoraException(
                        "cannot merge adapter " + name + ": " + blocker + "; use it unmerged on quantized bases");
            }
        }
        for (LoraLinear l : layers) {
            l.mergeWeights(name);
        }
        state().ifPresent(s -> s.merged = name);
        log.info("merged adapter {} into the base weights", name);
    }

    /**
     * Subtracts the merged adapter from the base weights again. Up to rounding: the weights come
     * back within about one ulp of the merged values (float32: ~1e-7 relative; float16: ~1e-3
     * relative, since merging rounded away W's low bits). Reload the model for bit-exact weights.
     */
    public void unmerge() {
        Optional<LoraState> state = state();
        String name = state.map(s -> s.merged).orElse(null);
        if (name == null) {
            return;
        }
        for (LoraLinear l : layers()) {
            l.unmergeWeights(name);
        }
        state.get().merged = null;
    }

    public Optional<String> merged() {
        return state().map(s -> s.merged);
    }

    /**
     * Training mode: LoRA dropout ({@code lora_dropout} of each adapter) on the adapter input. Off by
     * default; inference never drops.
     */
    public void setTraining(boolean on) {
        state().ifPresent(s -> s.training = on);
    }

    /** The model's one LoRA state, once an adapter is attached. */
    private Optional<LoraState> state() {
        for (Linear linear : model.projections().values()) {
            if (linear instanceof LoraLinear l) {
                return Optional.of(l.state());
            }
        }
        return Optional.empty();
    }

    /**
     * Detaches and closes adapter {@code name}, unmerging or deactivating it first; projections left
     * without adapters get their plain base back.
     */
    public void remove(String name) {
        LoraAdapter adapter = adapters().get(name);
        if (adapter == null) {
            throw new LoraException("no adapter named " + name + " is loaded (loaded: "
                    + adapters().keySet() + ")");
        }
        if (merged().filter(name::equals).isPresent()) {
            unmerge();
        }
        if (active().filter(name::equals).isPresent()) {
            activate(null);
        }
        Optional<LoraState> state = state();
        model.mapLinears((module, linear) -> {
            if (linear instanceof LoraLinear l && l.has(name) && l.remove(name)) {
                return l.base();
            }
            return linear;
        });
        state.ifPresent(s -> s.ids.remove(name));
        adapter.close();
    }

    private void requireNew(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("an adapter needs a non-empty name");
        }
        if (adapters().containsKey(name)) {
            throw new LoraException("an adapter named " + name + " is already loaded");
        }
    }

    private List<LoraLinear> layers() {
        List<LoraLinear> out = new ArrayList<>();
        for (Linear linear : model.projections().values()) {
            if (linear instanceof LoraLinear l) {
                out.add(l);
            }
        }
        return out;
    }
}
