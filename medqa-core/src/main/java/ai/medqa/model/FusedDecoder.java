package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.IValue;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The decoder stack as one TorchScript call per step instead of about 45 DJL operations per layer,
 * each of which costs a JNI crossing and a Java {@link NDArray} (several microseconds, which for
 * single-token decode is more than the arithmetic of a small model).
 *
 * <p>The script ({@code fused_decoder.py} next to this class) repeats {@link RmsNorm},
 * {@link Attention}, {@link Mlp} and {@link Rope} operation for operation, so both paths agree to
 * float rounding. It is packed at run time into a TorchScript archive (a zip of the source and a
 * pickled empty module) and loaded on the model's device: no Python is involved, and the module
 * has no parameters; every weight and both caches are passed per call, so the caches stay the
 * preallocated arrays of {@link KvCache}, written in place by the script.
 *
 * <p>Only layers whose seven projections are all {@link DenseLinear} can be fused (the script
 * multiplies the raw weights); {@link Plan} groups consecutive fusable layers into runs, and the
 * other layers (LoRA, quantized) go op by op. Only the cached inference forward uses it: the
 * training forward needs DJL's autograd.
 */
final class FusedDecoder implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FusedDecoder.class);
    /** {@code -Dmedqa.fused=false} forces the op-by-op path everywhere. */
    static final String PROPERTY = "medqa.fused";
    private static final String SOURCE = "fused_decoder.py";
    /** Weights per layer in the script's order (see fused_decoder.py). */
    private static final int PER_LAYER = 9;

    private final PtNDManager manager;
    private final TorchScript module;
    /** Script calls so far; lets tests see which path ran (an exact-equality check cannot). */
    private final AtomicLong calls = new AtomicLong();

    private FusedDecoder(PtNDManager manager, TorchScript module) {
        this.manager = manager;
        this.module = module;
    }

    static boolean enabledByDefault() {
        return !"false".equalsIgnoreCase(System.getProperty(PROPERTY, "true").trim());
    }

    /**
     * Loads the script on {@code manager}'s device, or returns null (the op-by-op path then serves)
     * when the engine is not PyTorch or the archive does not load.
     */
    static FusedDecoder load(NDManager manager) {
        if (!(manager instanceof PtNDManager pt)) {
            log.info("fused decoder needs the PyTorch engine, not {}: using op-by-op layers",
                    manager.getEngine().getEngineName());
            return null;
        }
        try {
            return new FusedDecoder(pt, TorchScript.load(pt, "FusedDecoder", source()));
        } catch (IOException | RuntimeException e) {
            log.warn("could not load the fused decoder script, using op-by-op layers", e);
            return null;
        }
    }

    static String source() throws IOException {
        return TorchScript.resource(FusedDecoder.class, SOURCE);
    }

    /**
     * Which layers of {@code layers} can be fused, grouped into runs of consecutive layers, with
     * their weights already wrapped for the script (one native list per run, reused every call).
     * Returns a plan without runs when no layer qualifies.
     */
    Plan plan(DecoderLayer[] layers) {
        List<Run> runs = new ArrayList<>();
        int l = 0;
        while (l < layers.length) {
            if (!fusable(layers[l])) {
                l++;
                continue;
            }
            int first = l;
            List<PtNDArray> weights = new ArrayList<>();
            while (l < layers.length && fusable(layers[l])) {
                DecoderLayer layer = layers[l];
                Attention a = layer.selfAttn;
                Mlp m = layer.mlp;
                weights.add(pt(layer.inputLayernorm.weight()));
                weights.add(pt(((DenseLinear) a.qProj).weight()));
                weights.add(pt(((DenseLinear) a.kProj).weight()));
                weights.add(pt(((DenseLinear) a.vProj).weight()));
                weights.add(pt(((DenseLinear) a.oProj).weight()));
                weights.add(pt(layer.postAttentionLayernorm.weight()));
                weights.add(pt(((DenseLinear) m.gateProj).weight()));
                weights.add(pt(((DenseLinear) m.upProj).weight()));
                weights.add(pt(((DenseLinear) m.downProj).weight()));
                l++;
            }
            runs.add(new Run(first, l, IValue.listFrom(weights.toArray(PtNDArray[]::new))));
        }
        return new Plan(runs, runs.size() == 1 && runs.get(0).first() == 0 && runs.get(0).end() == layers.length);
    }

    static boolean fusable(DecoderLayer layer) {
        Attention a = layer.selfAttn;
        Mlp m = layer.mlp;
        return a.qProj instanceof DenseLinear && a.kProj instanceof DenseLinear && a.vProj instanceof DenseLinear
                && a.oProj instanceof DenseLinear && m.gateProj instanceof DenseLinear
                && m.upProj instanceof DenseLinear && m.downProj instanceof DenseLinear;
    }

    /**
     * The whole stack for one step: embedding of {@code ids [B, T]}, rotary tables at
     * {@code positions [B, T]}, every layer (plan must cover all) and the final norm.
     *
     * @param bias the additive mask, or {@code empty} (a zero-element array) for none
     * @return normalized hidden states {@code [B, T, hidden]}, attached to the current scope
     */
    NDArray step(Plan plan, NDArray ids, NDArray positions, NDArray embed, Rope rope, NDArray bias,
            KvCache cache, NDArray norm, int start, int from, double eps, double scale) {
        Run run = plan.runs.get(0);
        IValue[] args = {
            IValue.from(pt(ids)), IValue.from(pt(positions)), IValue.from(pt(embed)),
            IValue.from(pt(rope.cosTable())), IValue.from(pt(rope.sinTable())), IValue.from(pt(bias)),
            caches(cache.keys, run), caches(cache.values, run), null, IValue.from(pt(norm)),
            IValue.from((long) start), IValue.from((long) from), IValue.from(eps), IValue.from(scale)};
        return call("forward", args, 8, run.weights());
    }

    /** Layers {@code [run.first, run.end)} on hidden states {@code x [B, T, hidden]}. */
    NDArray layers(Run run, NDArray x, NDList cosSin, NDArray bias, KvCache cache, int start, int from,
            double eps, double scale) {
        IValue[] args = {
            IValue.from(pt(x)), IValue.from(pt(cosSin.get(0))), IValue.from(pt(cosSin.get(1))),
            IValue.from(pt(bias)), caches(cache.keys, run), caches(cache.values, run), null,
            IValue.from((long) start), IValue.from((long) from), IValue.from(eps), IValue.from(scale)};
        return call("layers", args, 6, run.weights());
    }

    /** Runs {@code method} with {@code args}, the plan's weights at {@code weightsAt}; frees the per-call IValues. */
    private NDArray call(String method, IValue[] args, int weightsAt, IValue weights) {
        args[weightsAt] = weights;
        calls.incrementAndGet();
        try {
            return module.call(method, args);
        } finally {
            for (int i = 0; i < args.length; i++) {
                if (i != weightsAt) {
                    args[i].close();
                }
            }
        }
    }

    long calls() {
        return calls.get();
    }

    private static IValue caches(NDArray[] perLayer, Run run) {
        PtNDArray[] slice = new PtNDArray[run.end() - run.first()];
        for (int i = 0; i < slice.length; i++) {
            slice[i] = pt(perLayer[run.first() + i]);
        }
        return IValue.listFrom(slice);
    }

    private static PtNDArray pt(NDArray array) {
        return (PtNDArray) array;
    }

    @Override
    public void close() {
        module.close();
    }

    /** Runs of fusable layers; {@link #close} frees the wrapped weight lists (not the weights). */
    static final class Plan implements AutoCloseable {
        final List<Run> runs;
        /** One run covering every layer: the whole step goes through {@link #step}. */
        final boolean all;

        Plan(List<Run> runs, boolean all) {
            this.runs = runs;
            this.all = all;
        }

        /** The run starting at {@code layer}, or null. */
        Run startingAt(int layer) {
            for (Run r : runs) {
                if (r.first() == layer) {
                    return r;
                }
            }
            return null;
        }

        @Override
        public void close() {
            for (Run r : runs) {
                r.weights().close();
            }
        }
    }

    /** Layers {@code [first, end)}, all fusable, with their weights as one TorchScript list. */
    record Run(int first, int end, IValue weights) {}
}
