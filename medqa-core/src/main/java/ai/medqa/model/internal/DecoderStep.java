package ai.medqa.model.internal;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.LongStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The decoder step as one TorchScript call ({@code decoder_step.py}, compiled by PyTorch at load; no
 * Python): embedding, every layer, the final norm and {@code lm_head}, for every weight format a
 * {@link ai.medqa.model.Linear} can describe as a {@link FusedProjection} (dense, BF16, int4, int8, NF4, each with or
 * without an unmerged LoRA adapter). About 45 DJL operations per layer would each cost a JNI
 * crossing and a Java {@link NDArray}, which for single-token decode is more than the arithmetic of
 * a small model.
 *
 * <p>The same script holds the packed products (int4, int8, NF4): the quantized {@link ai.medqa.model.Linear}s call
 * {@link #project} for their op-by-op forward, so each product is defined once. The Java op-by-op
 * layers stay the autograd route for training and the reference the step is tested against.
 *
 * <p>The script has no parameters and no device: one module serves every model and device.
 */
public final class DecoderStep {
    private static final Logger log = LoggerFactory.getLogger(DecoderStep.class);
    /** {@code -Dmedqa.fused=false} forces the op-by-op path everywhere. */
    public static final String PROPERTY = "medqa.fused";

    public static final String SOURCE = "decoder_step.py";
    // The script's projection kinds (decoder_step.py's header and project(); DecoderStepTest checks
    // that both sides agree).
    public static final int DENSE = 0;
    public static final int INT4 = 1;
    public static final int INT8 = 2;
    public static final int NF4 = 3;
    public static final int BF16 = 4;
    /** Not a script kind: marks a LoRA form in a plan's signature. */
    private static final int SIGN_LORA = 100;

    private static volatile TorchScript script;

    private DecoderStep() {}

    public static boolean enabledByDefault() {
        return !"false".equalsIgnoreCase(System.getProperty(PROPERTY, "true").trim());
    }

    public static String source() throws IOException {
        return TorchScript.resource(DecoderStep.class, SOURCE);
    }

    /**
     * The compiled script, loaded on first use. It lives as long as the process (its manager is
     * never closed): it holds no tensors, only code.
     */
    public static TorchScript script() {
        TorchScript s = script;
        if (s == null) {
            synchronized (DecoderStep.class) {
                s = script;
                if (s == null) {
                    try {
                        NDManager home = Engine.getEngine("PyTorch").newBaseManager();
                        s = TorchScript.load(home, "DecoderStep", source());
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    script = s;
                }
            }
        }
        return s;
    }

    /**
     * {@code x W^T} for one projection, op by op: the script's {@code project}, the definition the
     * fused step uses too. The result has {@code x}'s dtype and belongs to {@code x}'s manager.
     */
    public static NDArray project(NDArray x, FusedProjection p) {
        return project(x, p, null);
    }

    /**
     * As {@link #project(NDArray, FusedProjection)}, where a LoRA form adds to batch row {@code b} of
     * {@code x [B, ...]} the delta of adapter {@code adapterIds[b]} ({@link ai.medqa.model.AdapterRows#NONE_ID}, or an
     * id the form does not hold: none), exactly as the fused step does.
     */
    public static NDArray project(NDArray x, FusedProjection p, int[] adapterIds) {
        List<IValue> owned = new ArrayList<>();
        try (NDManager local = x.getManager().newSubManager()) {
            Encoded e = encode(p, local, false, owned);
            IValue xv = own(owned, IValue.from((PtNDArray) x));
            IValue kind = own(owned, IValue.from((long) e.kind));
            IValue param = own(owned, IValue.from(e.param));
            NDArray selection = null;
            if (p instanceof FusedProjection.WithLora l && adapterIds != null) {
                int slots = 0;
                for (FusedProjection.Lora a : l.adapters()) {
                    slots = Math.max(slots, a.id() + 1);
                }
                selection = selection(local, adapterIds, slots);
            }
            IValue sel =
                    own(owned, IValue.from((PtNDArray) (selection != null ? selection : local.create(new float[0]))));
            return script().call(x.getManager(), "project", xv, kind, param, e.tensors, e.lora, sel);
        } finally {
            closeAll(owned);
        }
    }

    /**
     * The script's {@code sel} for rows of adapters {@code ids}: float32 {@code [ids.length, slots]},
     * 1 at each row's adapter id; null when no row has an id below {@code slots} (no delta to add).
     */
    public static NDArray selection(NDManager manager, int[] ids, int slots) {
        float[] sel = new float[ids.length * slots];
        boolean any = false;
        for (int r = 0; r < ids.length; r++) {
            if (ids[r] >= 0 && ids[r] < slots) {
                sel[r * slots + ids[r]] = 1f;
                any = true;
            }
        }
        return any ? manager.create(sel, new Shape(ids.length, slots)) : null;
    }

    /** Codes {@code q [out, in]} (int32, 0..15) in the int4 kernel's layout for their device. */
    public static NDArray packInt4(NDArray q) {
        try (IValue qv = IValue.from((PtNDArray) q)) {
            return script().call(q.getManager(), "pack_int4", qv);
        }
    }

    /** {@code x} as a contiguous bfloat16 tensor that only TorchScript sees; the caller closes it. */
    public static IValue bf16(NDArray x) {
        try (IValue xv = IValue.from((PtNDArray) x)) {
            return script().callValue("to_bf16", xv);
        }
    }

    /**
     * The fused form of a model's projections, wrapped once for the script. Which arrays it was made
     * from is its {@link #signature}: the model rebuilds it when a projection's form changes (an
     * adapter switched, merged weights).
     */
    public static final class Plan implements AutoCloseable {
        /** Why the step cannot be fused; null when it can. */
        public final String blocker;

        public final long[] signature;
        /** One more than the largest adapter id among the projections' LoRA forms (0: none). */
        public int adapterSlots;

        private final NDManager scalars;
        private final List<IValue> owned = new ArrayList<>();
        private IValue embed;
        private IValue cosTable;
        private IValue sinTable;
        private IValue norms;
        private IValue norm;
        private IValue kinds;
        private IValue params;
        private IValue weights;
        private IValue loras;

        private Plan(String blocker, long[] signature, NDManager scalars) {
            this.blocker = blocker;
            this.signature = signature;
            this.scalars = scalars;
        }

        public boolean fused() {
            return blocker == null;
        }

        @Override
        public void close() {
            closeAll(owned);
            if (scalars != null) {
                scalars.close();
            }
        }
    }

    /**
     * Wraps the model for the script: {@code forms} holds 7 projections per layer in checkpoint
     * order and then {@code lm_head}; {@code norms} 2 per layer.
     */
    public static Plan plan(
            NDManager manager,
            List<FusedProjection> forms,
            List<String> names,
            NDArray[] norms,
            NDArray embed,
            NDArray cosTable,
            NDArray sinTable,
            NDArray norm) {
        long[] signature = signature(forms);
        for (int i = 0; i < forms.size(); i++) {
            if (forms.get(i) == null) {
                return new Plan(names.get(i) + " has no fused form", signature, null);
            }
        }
        Plan plan = new Plan(null, signature, manager.newSubManager());
        try {
            long[] kinds = new long[forms.size()];
            long[] params = new long[forms.size()];
            IValue[] weights = new IValue[forms.size()];
            IValue[] loras = new IValue[forms.size()];
            List<IValue> temporary = new ArrayList<>();
            for (int i = 0; i < forms.size(); i++) {
                if (forms.get(i) instanceof FusedProjection.WithLora l) {
                    for (FusedProjection.Lora a : l.adapters()) {
                        plan.adapterSlots = Math.max(plan.adapterSlots, a.id() + 1);
                    }
                }
                Encoded e = encode(forms.get(i), plan.scalars, true, temporary);
                kinds[i] = e.kind;
                params[i] = e.param;
                weights[i] = e.tensors;
                loras[i] = e.lora;
            }
            plan.kinds = own(plan.owned, IValue.listFrom(kinds));
            plan.params = own(plan.owned, IValue.listFrom(params));
            plan.weights = own(plan.owned, IValue.listFrom(weights));
            plan.loras = own(plan.owned, IValue.listFrom(loras));
            closeAll(temporary); // the lists hold their own references
            plan.norms = own(
                    plan.owned,
                    IValue.listFrom(Arrays.stream(norms).map(a -> (PtNDArray) a).toArray(PtNDArray[]::new)));
            plan.embed = own(plan.owned, IValue.from((PtNDArray) embed));
            plan.cosTable = own(plan.owned, IValue.from((PtNDArray) cosTable));
            plan.sinTable = own(plan.owned, IValue.from((PtNDArray) sinTable));
            plan.norm = own(plan.owned, IValue.from((PtNDArray) norm));
            return plan;
        } catch (RuntimeException e) {
            plan.close();
            throw e;
        }
    }

    /**
     * One step through the script.
     *
     * @param cacheLists the KV cache as the script's two lists (keys, values)
     * @param bias the additive mask, or a zero-element array for none
     * @param sel float32 {@code [B, plan.adapterSlots]}, 1 where a row uses an adapter id; a zero-element
     *     array when no row does
     * @param last logits of the last position only ({@code [B, vocab]}) instead of all ({@code [B, T, vocab]})
     * @return float32 logits, attached to {@code ids}' manager
     */
    public static NDArray step(
            Plan plan,
            NDArray ids,
            NDArray positions,
            NDArray bias,
            NDArray sel,
            IValue[] cacheLists,
            int start,
            int from,
            double eps,
            double scale,
            boolean last) {
        IValue[] perCall = {
            IValue.from((PtNDArray) ids),
            IValue.from((PtNDArray) positions),
            IValue.from((PtNDArray) bias),
            IValue.from((long) start),
            IValue.from((long) from),
            IValue.from(eps),
            IValue.from(scale),
            IValue.from(last),
            IValue.from((PtNDArray) sel)
        };
        try {
            return script().call(
                            ids.getManager(),
                            "forward",
                            perCall[0],
                            perCall[1],
                            plan.embed,
                            plan.cosTable,
                            plan.sinTable,
                            perCall[2],
                            perCall[8],
                            cacheLists[0],
                            cacheLists[1],
                            plan.norms,
                            plan.kinds,
                            plan.params,
                            plan.weights,
                            plan.loras,
                            plan.norm,
                            perCall[3],
                            perCall[4],
                            perCall[5],
                            perCall[6],
                            perCall[7]);
        } finally {
            for (IValue v : perCall) {
                v.close();
            }
        }
    }

    /** A projection as the script's (kind, param, tensors, lora). */
    private record Encoded(int kind, long param, IValue tensors, IValue lora) {}

    /**
     * Scalars the form needs become float32 arrays of {@code scalars} ({@code keep}: outside any
     * NDScope, as a plan's are); every IValue made is added to {@code owned}.
     */
    private static Encoded encode(FusedProjection p, NDManager scalars, boolean keep, List<IValue> owned) {
        IValue lora;
        if (p instanceof FusedProjection.WithLora l) {
            // [cols, scales, A_0, B_0, A_1, B_1, ...]: A and B are the adapters' own arrays (training
            // updates them in place), only the small column tables are made here.
            List<Long> cols = new ArrayList<>();
            List<Float> scales = new ArrayList<>();
            List<PtNDArray> tensors = new ArrayList<>();
            tensors.add(null);
            tensors.add(null);
            for (FusedProjection.Lora a : l.adapters()) {
                long rank = a.a().getShape().get(0);
                for (long j = 0; j < rank; j++) {
                    cols.add((long) a.id());
                    scales.add(a.scaling());
                }
                tensors.add(pt(a.a()));
                tensors.add(pt(a.b()));
            }
            Device device = l.adapters().get(0).a().getDevice();
            tensors.set(
                    0,
                    pt(keep(
                            scalars.create(
                                    cols.stream().mapToLong(Long::longValue).toArray()),
                            device,
                            keep)));
            float[] sc = new float[scales.size()];
            for (int i = 0; i < sc.length; i++) {
                sc[i] = scales.get(i);
            }
            tensors.set(1, pt(keep(scalars.create(sc), device, keep)));
            lora = own(owned, IValue.listFrom(tensors.toArray(PtNDArray[]::new)));
            p = l.base();
        } else {
            lora = own(owned, IValue.listFrom(new PtNDArray[0]));
        }
        if (p instanceof FusedProjection.Format f) {
            FusedProjection.Encoder e = new FusedProjection.Encoder() {
                @Override
                public IValue list(NDArray... arrays) {
                    PtNDArray[] tensors = new PtNDArray[arrays.length];
                    for (int i = 0; i < arrays.length; i++) {
                        tensors[i] = pt(arrays[i]);
                    }
                    return own(owned, IValue.listFrom(tensors));
                }

                @Override
                public IValue list(IValue... values) {
                    return own(owned, IValue.listFrom(values));
                }

                @Override
                public IValue of(NDArray array) {
                    return own(owned, IValue.from(pt(array)));
                }

                @Override
                public NDArray scalar(float value, Device device) {
                    return DecoderStep.scalar(scalars, value, device, keep);
                }
            };
            return new Encoded(f.kind(), f.param(), f.tensors(e), lora);
        }
        throw new IllegalArgumentException("a LoRA form wraps another LoRA form: " + p);
    }

    /**
     * {@code wrapped} (which may alias Java memory, and is closed) as an array with native memory
     * of its own on {@code device}; {@code keep}: outside any NDScope, as a plan's arrays are.
     */
    private static NDArray keep(NDArray wrapped, Device device, boolean keep) {
        try (wrapped) {
            NDArray own = wrapped.duplicate();
            if (!own.getDevice().equals(device)) {
                NDArray moved = own.toDevice(device, true);
                own.close();
                own = moved;
            }
            if (keep) {
                NDScope.unregister(own);
            }
            return own;
        }
    }

    /**
     * The native tensors (and scalars) a list of forms is made of: equal signatures mean a plan
     * built from one serves the other. Native handles, not Java objects, because merging an adapter
     * swaps the tensor behind the same Java array.
     */
    public static long[] signature(List<FusedProjection> forms) {
        LongStream.Builder out = LongStream.builder();
        for (FusedProjection p : forms) {
            sign(p, out);
        }
        return out.build().toArray();
    }

    private static void sign(FusedProjection p, LongStream.Builder out) {
        if (p == null) {
            out.add(-1L);
        } else if (p instanceof FusedProjection.WithLora l) {
            out.add((long) SIGN_LORA);
            out.add((long) l.adapters().size());
            for (FusedProjection.Lora a : l.adapters()) {
                out.add((long) a.id());
                out.add(handle(a.a()));
                out.add(handle(a.b()));
                out.add((long) Float.floatToIntBits(a.scaling()));
            }
            sign(l.base(), out);
        } else if (p instanceof FusedProjection.Format f) {
            out.add((long) f.kind());
            f.identity(out::add);
        }
    }

    /**
     * A 0-d float32 array with native memory of its own: {@code create(float)} wraps a Java buffer
     * that is freed with the array, while the script's lists keep the tensor (a plan's across steps).
     */
    private static NDArray scalar(NDManager manager, float value, Device device, boolean keep) {
        return keep(manager.create(value), device, keep);
    }

    private static long handle(NDArray a) {
        return pt(a).getHandle();
    }

    private static PtNDArray pt(NDArray a) {
        return (PtNDArray) a;
    }

    private static IValue own(List<IValue> owned, IValue v) {
        owned.add(v);
        return v;
    }

    private static void closeAll(List<IValue> values) {
        for (IValue v : values) {
            v.close();
        }
        values.clear();
    }

    /** Logs the plan; rebuilds after the first (an adapter switched per batch) only at debug level. */
    public static void logPlan(Plan plan, List<FusedProjection> forms, int layers, boolean first) {
        if (!first && !log.isDebugEnabled()) {
            return;
        }
        if (!plan.fused()) {
            log.info("decoder step: op by op ({})", plan.blocker);
            return;
        }
        Map<String, Integer> counts = new TreeMap<>();
        int withLora = 0;
        for (FusedProjection p : forms) {
            if (p instanceof FusedProjection.WithLora l) {
                withLora++;
                p = l.base();
            }
            counts.merge(p instanceof FusedProjection.Format f ? f.label() : "other", 1, Integer::sum);
        }
        log.info(
                "decoder step: fused, one TorchScript call for {} layers and lm_head (projections: {}; {} with LoRA)",
                layers,
                counts.toString().replaceAll("[{}]", "").replace("=", " "),
                withLora);
    }
}
