package ai.medqa.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.medqa.common.Internal;
import ai.medqa.io.Checkpoint;
import ai.medqa.io.GgufFile;
import ai.medqa.model.internal.DecoderStep;
import ai.medqa.model.internal.FusedProjection;
import ai.medqa.model.internal.Ops;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.IntSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Mistral / Llama decoder: token embedding, {@code num_hidden_layers} decoder layers, a final
 * RMSNorm and the {@code lm_head} classifier (tied to the embedding when the config says so).
 * Weight names follow the Hugging Face checkpoint ({@code model.layers.N.self_attn.q_proj.weight}).
 *
 * <p>Every array this class creates during a forward call belongs to the caller's scope: wrap calls
 * in an {@link ai.djl.ndarray.NDScope} (the generation loop does) so per-step arrays are freed.
 */
public final class MistralModel implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MistralModel.class);
    /** transformers' additive mask value (torch.finfo(float32).min): never -inf, so no NaN rows. */
    private static final float MASKED = -Float.MAX_VALUE;

    private final MistralConfig config;
    private final NDManager manager;
    private final DataType dtype;
    private final NDArray embedTokens;
    private final DecoderLayer[] layers;
    private final RmsNorm norm;
    private Linear lmHead;
    private final Rope rope;
    /**
     * The projections wrapped for the fused step, every attached adapter included (rows pick theirs
     * per call), so switching adapters changes nothing here; rebuilt when a projection is replaced
     * or its tensors change (an adapter attached, removed, merged).
     */
    private DecoderStep.Plan plan;

    private volatile String[] projectionNames;
    private boolean planStale;
    /** The adapter id rows use when a call passes {@link AdapterRows#ACTIVE}; set by the LoRA package. */
    private volatile IntSupplier activeAdapter = () -> AdapterRows.NONE_ID;
    /** What the script takes for "no mask": a zero-element array (TorchScript gets no nulls from DJL). */
    private final NDArray noBias;

    private volatile boolean fusedEnabled;
    private final AtomicLong fusedSteps = new AtomicLong();
    private final AtomicLong planBuilds = new AtomicLong();

    private MistralModel(
            MistralConfig config,
            NDManager manager,
            DataType dtype,
            NDArray embedTokens,
            DecoderLayer[] layers,
            RmsNorm norm,
            Linear lmHead,
            Rope rope) {
        this.config = config;
        this.manager = manager;
        this.dtype = dtype;
        this.embedTokens = embedTokens;
        this.layers = layers;
        this.norm = norm;
        this.lmHead = lmHead;
        this.rope = rope;
        setFused(true);
        this.noBias = manager.create(new float[0]);
    }

    /**
     * Loads {@code dir} (config.json and safetensors; or a GGUF file, {@link GgufModel}) onto
     * {@code device} in compute dtype {@code dtype}.
     */
    public static MistralModel load(Path dir, Device device, DataType dtype, LinearFactory linears) {
        if (GgufModel.is(dir)) {
            GgufFile gguf = GgufFile.open(dir);
            Checkpoint checkpoint;
            MistralConfig config;
            try {
                config = GgufModel.config(gguf);
                checkpoint = GgufModel.checkpoint(gguf, config);
            } catch (RuntimeException e) {
                gguf.close();
                throw e;
            }
            try (checkpoint) { // closes the file
                return load(config, checkpoint, device, dtype, linears);
            }
        }
        MistralConfig config = MistralConfig.load(dir);
        try (Checkpoint checkpoint = Checkpoint.open(dir)) {
            return load(config, checkpoint, device, dtype, linears);
        }
    }

    public static MistralModel load(
            MistralConfig config, Checkpoint checkpoint, Device device, DataType dtype, LinearFactory linears) {
        NDManager manager = NDManager.newBaseManager(device);
        try {
            Weights w = new Weights(checkpoint, manager, dtype);
            long h = config.hiddenSize();
            long q = (long) config.numAttentionHeads() * config.headDim();
            long kv = (long) config.numKeyValueHeads() * config.headDim();
            long inter = config.intermediateSize();
            long started = System.nanoTime();
            NDArray embed = w.load("model.embed_tokens.weight", config.vocabSize(), h);
            DecoderLayer[] layers = new DecoderLayer[config.numHiddenLayers()];
            for (int i = 0; i < layers.length; i++) {
                String p = "model.layers." + i + ".";
                Attention attn = new Attention(
                        config,
                        linears.create(p + "self_attn.q_proj", h, q, w),
                        linears.create(p + "self_attn.k_proj", h, kv, w),
                        linears.create(p + "self_attn.v_proj", h, kv, w),
                        linears.create(p + "self_attn.o_proj", q, h, w));
                Mlp mlp = new Mlp(
                        linears.create(p + "mlp.gate_proj", h, inter, w),
                        linears.create(p + "mlp.up_proj", h, inter, w),
                        linears.create(p + "mlp.down_proj", inter, h, w));
                layers[i] = new DecoderLayer(
                        new RmsNorm(w.load(p + "input_layernorm.weight", h), config.rmsNormEps()),
                        attn,
                        new RmsNorm(w.load(p + "post_attention_layernorm.weight", h), config.rmsNormEps()),
                        mlp);
                log.info("loaded layer {}/{} from {}", i + 1, layers.length, checkpoint.directory());
            }
            RmsNorm norm = new RmsNorm(w.load("model.norm.weight", h), config.rmsNormEps());
            Linear lmHead;
            if (config.tieWordEmbeddings()) {
                Linear own = linears.tiedHead("model.embed_tokens", h, config.vocabSize(), w);
                lmHead = own != null ? own : new TiedHead(embed);
            } else {
                lmHead = linears.create("lm_head", h, config.vocabSize(), w);
            }
            Rope rope = new Rope(manager, config, dtype);
            log.info(
                    "loaded {} ({} parameters, {} layers, {}) on {} in {} ms",
                    checkpoint.directory(),
                    config.parameterCount(),
                    layers.length,
                    dtype,
                    device,
                    (System.nanoTime() - started) / 1_000_000);
            return new MistralModel(config, manager, dtype, embed, layers, norm, lmHead, rope);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    public MistralConfig config() {
        return config;
    }

    public DataType dtype() {
        return dtype;
    }

    public Device device() {
        return manager.getDevice();
    }

    /** The manager that owns the weights; new arrays for this model's device come from it. */
    public NDManager manager() {
        return manager;
    }

    /** A cache for one unpadded sequence of up to {@code capacity} tokens. */
    public KvCache newCache(int capacity) {
        return newCache(new int[] {0}, capacity);
    }

    /** A cache for {@code padLeft.length} left-padded rows of up to {@code capacity} slots. */
    public KvCache newCache(int[] padLeft, int capacity) {
        return new KvCache(config, manager, padLeft, Math.min(capacity, config.maxPositionEmbeddings()), dtype);
    }

    /**
     * A cache of row {@code rows[i]} of {@code sources[i]} for each {@code i}, with room for
     * {@code room} more positions: how a batch whose rows join and leave between steps regroups.
     * Each row's positions stay those it had, so its attention is unchanged. The sources stay open.
     */
    public KvCache gatherCache(KvCache[] sources, int[] rows, int room) {
        if (sources.length == 0 || sources.length != rows.length) {
            throw new IllegalArgumentException("gatherCache needs one row index per source cache, got " + sources.length
                    + " caches and " + rows.length + " rows");
        }
        return KvCache.gather(config, manager, dtype, sources, rows, room);
    }

    /**
     * Feeds {@code tokens[b]} (all rows the same length T, padding included) at the next slots of
     * {@code cache} and advances it.
     *
     * @return float32 logits, {@code [B, T, vocab]} if {@code allPositions}, else {@code [B, vocab]}
     *     for the last position
     */
    public NDArray forward(int[][] tokens, KvCache cache, boolean allPositions) {
        return forward(tokens, cache, allPositions, AdapterRows.ACTIVE);
    }

    /**
     * As {@link #forward(int[][], KvCache, boolean)}, row {@code b} with the LoRA adapter
     * {@code adapters} gives it: rows of different adapters (or none) decode in one pass.
     */
    public NDArray forward(int[][] tokens, KvCache cache, boolean allPositions, AdapterRows adapters) {
        int b = tokens.length;
        if (!adapters.active() && adapters.size() != b) {
            throw new IllegalArgumentException(b + " rows but adapters for " + adapters.size());
        }
        int t = tokens[0].length;
        if (b != cache.batchSize()) {
            throw new IllegalArgumentException("cache holds " + cache.batchSize() + " rows, got " + b);
        }
        int start = cache.length();
        int end = start + t;
        if (end > cache.capacity()) {
            throw new ContextOverflowException(
                    "cannot feed " + t + " tokens at slot " + start + ": the cache holds " + cache.capacity()
                            + " positions (max_position_embeddings = " + config.maxPositionEmbeddings() + ")");
        }
        long[] ids = new long[b * t];
        long[] positions = new long[b * t];
        for (int r = 0; r < b; r++) {
            if (tokens[r].length != t) {
                throw new IllegalArgumentException("row " + r + " has " + tokens[r].length + " tokens, row 0 has " + t);
            }
            for (int i = 0; i < t; i++) {
                ids[r * t + i] = tokens[r][i];
                positions[r * t + i] = Math.max(0, start + i - cache.padLeft(r));
            }
        }
        int window = config.slidingWindow();
        // The oldest key any of the T queries may see; older slots are not even read.
        int from = window > 0 ? Math.max(0, start + 1 - window) : 0;
        NDArray bias = null;
        if (t > 1 || cache.padded() || (window > 0 && end - from > window)) {
            bias = manager.create(maskBias(cache, start, t, from, end), new Shape(b, 1, 1, t, end - from));
        }
        NDArray inputIds = manager.create(ids, new Shape(b, t));
        NDArray positionIds = manager.create(positions, new Shape(b, t));
        DecoderStep.Plan fusedPlan = fusedPlan();
        if (fusedPlan != null) {
            double eps = (float) config.rmsNormEps(); // RmsNorm adds eps as a float
            double scale = (float) (1.0 / Math.sqrt(config.headDim())); // as Attention scales
            NDArray logits = DecoderStep.step(
                    fusedPlan,
                    inputIds,
                    positionIds,
                    bias == null ? noBias : bias,
                    selection(adapters, b, fusedPlan.adapterSlots),
                    cache.fusedLists(),
                    start,
                    from,
                    eps,
                    scale,
                    !allPositions);
            cache.advance(t);
            fusedSteps.incrementAndGet();
            return logits;
        }
        NDArray hidden = hidden(inputIds, positionIds, bias, cache, start, from, adapters);
        cache.advance(t);
        if (!allPositions) {
            hidden = hidden.get(new NDIndex(":, -1, :"));
        }
        return logits(hidden, adapters);
    }

    /** The script's row-to-adapter matrix ({@link DecoderStep#selection}), or the empty array when no row has one. */
    private NDArray selection(AdapterRows adapters, int b, int slots) {
        if (slots == 0) {
            return noBias;
        }
        int[] ids = new int[b];
        for (int r = 0; r < b; r++) {
            ids[r] = adapters.active() ? activeAdapter.getAsInt() : adapters.id(r);
        }
        NDArray sel = DecoderStep.selection(manager, ids, slots);
        return sel != null ? sel : noBias;
    }

    /**
     * Internal, for the LoRA package: where {@link AdapterRows#ACTIVE} finds the active adapter's id
     * ({@link AdapterRows#NONE_ID} for none).
     */
    public void activeAdapterSource(IntSupplier source) {
        this.activeAdapter = Objects.requireNonNull(source, "source");
    }

    /**
     * Forward over whole sequences without a cache, as training needs: {@code inputIds [B, T]} (int64),
     * causal and sliding-window masking, optional left padding per row.
     *
     * @return float32 logits {@code [B, T, vocab]}
     */
    public NDArray forward(NDArray inputIds, int[] padLeft) {
        NDList positionsAndMask = trainingInputs(inputIds, padLeft);
        return logits(
                hidden(inputIds, positionsAndMask.get(0), positionsAndMask.get(1), null, 0, 0, AdapterRows.ACTIVE),
                AdapterRows.ACTIVE);
    }

    /**
     * Internal: for medqa-finetune's checkpointed backward, not a stable API. The training forward
     * pass one piece at a time, so that a training algorithm can run, record and recompute layers in
     * its own order; composed in order they are exactly {@link #forward(NDArray, int[])}.
     */
    public Layers layers() {
        return new Layers();
    }

    /**
     * Internal: for medqa-finetune, not a stable API (see {@link #layers()}). Whole sequences, no
     * cache; every array belongs to the caller's scope.
     */
    @Internal("medqa-finetune")
    public final class Layers {
        private Layers() {}

        /** Rope tables and the causal, sliding-window and padding mask of one batch. */
        public static final class Inputs {
            private final NDList cosSin;
            private final NDArray bias;

            private Inputs(NDList cosSin, NDArray bias) {
                this.cosSin = cosSin;
                this.bias = bias;
            }
        }

        public int count() {
            return layers.length;
        }

        /** The positions and mask of {@code inputIds [B, T]} with {@code padLeft[b]} padding slots per row. */
        public Inputs inputs(NDArray inputIds, int[] padLeft) {
            NDList positionsAndMask = trainingInputs(inputIds, padLeft);
            return new Inputs(rope.lookup(positionsAndMask.get(0)), positionsAndMask.get(1));
        }

        /** Token embeddings {@code [B, T, hidden]}: the first layer's input. */
        public NDArray embed(NDArray inputIds) {
            return MistralModel.this.embed(inputIds);
        }

        /** Decoder layer {@code l} over {@code x}, its output the next layer's input. */
        public NDArray layer(int l, NDArray x, Inputs in) {
            return layers[l].forward(x, rope, in.cosSin, in.bias, null, l, 0, 0, AdapterRows.ACTIVE);
        }

        /** Final norm and {@code lm_head} over the last layer's output: float32 logits {@code [B, T, vocab]}. */
        public NDArray logits(NDArray hidden) {
            return MistralModel.this.logits(norm.forward(hidden), AdapterRows.ACTIVE);
        }
    }

    /** Position ids and the causal, sliding-window and padding mask of a training batch. */
    private NDList trainingInputs(NDArray inputIds, int[] padLeft) {
        int b = (int) inputIds.getShape().get(0);
        int t = (int) inputIds.getShape().get(1);
        long[] positions = new long[b * t];
        for (int r = 0; r < b; r++) {
            for (int i = 0; i < t; i++) {
                positions[r * t + i] = Math.max(0, i - padLeft[r]);
            }
        }
        float[] bias = new float[b * t * t];
        for (int r = 0; r < b; r++) {
            fillMask(bias, r * t * t, padLeft[r], 0, t, 0, t);
        }
        return new NDList(manager.create(positions, new Shape(b, t)), manager.create(bias, new Shape(b, 1, 1, t, t)));
    }

    private NDArray embed(NDArray inputIds) {
        return Ops.embedding(inputIds, embedTokens);
    }

    private NDArray hidden(
            NDArray inputIds,
            NDArray positionIds,
            NDArray bias,
            KvCache cache,
            int start,
            int from,
            AdapterRows adapters) {
        NDArray x = embed(inputIds);
        NDList cosSin = rope.lookup(positionIds);
        for (int l = 0; l < layers.length; l++) {
            x = layers[l].forward(x, rope, cosSin, bias, cache, l, start, from, adapters);
        }
        return norm.forward(x);
    }

    /**
     * The fused step's plan for the current projections, or null when cached steps go op by op
     * (switched off, another engine, or a projection without a fused form).
     */
    private synchronized DecoderStep.Plan fusedPlan() {
        if (!fusedEnabled) {
            return null;
        }
        // Asked every step: the forms only (records, no module-name strings); names when rebuilding.
        List<FusedProjection> forms = new ArrayList<>(layers.length * 7 + 1);
        for (DecoderLayer layer : layers) {
            layer.selfAttn.forEachProjection((name, linear) -> forms.add(linear.fused()));
            layer.mlp.forEachProjection((name, linear) -> forms.add(linear.fused()));
        }
        forms.add(lmHead.fused());
        long[] signature = DecoderStep.signature(forms);
        if (planStale || (plan != null && !Arrays.equals(plan.signature, signature))) {
            resetFusedPlan();
            planStale = false;
        }
        if (plan == null) {
            List<String> names = new ArrayList<>(projections().keySet());
            NDArray[] norms = new NDArray[2 * layers.length];
            for (int l = 0; l < layers.length; l++) {
                norms[2 * l] = layers[l].inputLayernorm.weight();
                norms[2 * l + 1] = layers[l].postAttentionLayernorm.weight();
            }
            plan = DecoderStep.plan(
                    manager, forms, names, norms, embedTokens, rope.cosTable(), rope.sinTable(), norm.weight());
            DecoderStep.logPlan(plan, forms, layers.length, planBuilds.incrementAndGet() == 1);
        }
        return plan.fused() ? plan : null;
    }

    /**
     * A read-only view of every projection by module name ({@code model.layers.0.self_attn.q_proj}, ...,
     * {@code lm_head}) in checkpoint order; {@link #mapLinears} replaces them.
     */
    public Map<String, Linear> projections() {
        Map<String, Linear> out = new LinkedHashMap<>();
        forEachProjection(out::put);
        return Collections.unmodifiableMap(out);
    }

    /** Every projection in checkpoint order (7 per layer), then {@code lm_head}. */
    private void forEachProjection(BiConsumer<String, Linear> f) {
        // Read per decode step (the LoRA state, the active adapter): the names are made once.
        String[] names = projectionNames();
        int[] k = {0};
        for (DecoderLayer layer : layers) {
            layer.selfAttn.forEachProjection((name, l) -> f.accept(names[k[0]++], l));
            layer.mlp.forEachProjection((name, l) -> f.accept(names[k[0]++], l));
        }
        f.accept("lm_head", lmHead);
    }

    /** Checkpoint names of the layers' projections, in {@link #forEachProjection}'s order (fixed by the architecture). */
    private String[] projectionNames() {
        String[] names = projectionNames;
        if (names == null) {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < layers.length; i++) {
                String p = "model.layers." + i + ".";
                layers[i].selfAttn.forEachProjection((name, l) -> out.add(p + "self_attn." + name));
                layers[i].mlp.forEachProjection((name, l) -> out.add(p + "mlp." + name));
            }
            names = out.toArray(String[]::new);
            projectionNames = names;
        }
        return names;
    }

    /**
     * Switches the fused TorchScript step on or off for later forward calls (on by default); on has
     * no effect under {@code -Dmedqa.fused=false} or another engine.
     */
    void setFused(boolean on) {
        fusedEnabled = on
                && DecoderStep.enabledByDefault()
                && manager.getEngine().getEngineName().equals("PyTorch");
    }

    /** Fused steps this model has run; lets tests see which path ran (an exact-equality check cannot). */
    long fusedCalls() {
        return fusedSteps.get();
    }

    /** How often the fused step's plan was (re)built: reads of the projections must not cause one. */
    long planBuilds() {
        return planBuilds.get();
    }

    /** Whether cached forward steps of this model go through the fused step. */
    boolean fusedActive() {
        return fusedPlan() != null;
    }

    private NDArray logits(NDArray hidden, AdapterRows adapters) {
        NDArray logits = lmHead.forward(hidden, adapters);
        return logits.getDataType() == DataType.FLOAT32 ? logits : logits.toType(DataType.FLOAT32, false);
    }

    private float[] maskBias(KvCache cache, int start, int t, int from, int end) {
        int b = cache.batchSize();
        int keys = end - from;
        float[] bias = new float[b * t * keys];
        for (int r = 0; r < b; r++) {
            fillMask(bias, r * t * keys, cache.padLeft(r), start, t, from, end);
        }
        return bias;
    }

    /**
     * Query slot i sees key slot j iff {@code pad <= j <= i} and, with a sliding window w,
     * {@code i - j < w}: transformers' {@code sliding_window_overlay} ({@code kv_idx > q_idx - w}).
     */
    private void fillMask(float[] bias, int offset, int pad, int start, int t, int from, int end) {
        int window = config.slidingWindow();
        int keys = end - from;
        for (int qi = 0; qi < t; qi++) {
            int i = start + qi;
            for (int j = from; j < end; j++) {
                boolean visible = j <= i && j >= pad && (window == 0 || i - j < window);
                bias[offset + qi * keys + (j - from)] = visible ? 0f : MASKED;
            }
        }
    }

    /**
     * Replaces every projection (and {@code lm_head}) by {@code f(module name, current)}; the hook
     * LoRA adapters use to wrap projections. Returns the number of projections replaced.
     */
    public int mapLinears(BiFunction<String, Linear, Linear> f) {
        // No plan reset here: the next step compares the projections' native tensors with the plan's
        // (its signature) and rebuilds only if they changed, so a read through here costs nothing.
        int replaced = 0;
        for (Map.Entry<String, Linear> e : projections().entrySet()) {
            Linear next = f.apply(e.getKey(), e.getValue());
            if (next != e.getValue()) {
                replaceProjection(e.getKey(), next);
                replaced++;
            }
        }
        return replaced;
    }

    /**
     * Puts {@code linear} in place of the projection {@code module} ({@code model.layers.N.self_attn.q_proj},
     * {@code model.layers.N.mlp.up_proj}, ..., {@code lm_head}); the one way projections change.
     */
    public synchronized void replaceProjection(String module, Linear linear) {
        Objects.requireNonNull(linear, "linear");
        // The plan would hold the replaced weights alive: the next step drops it and makes a new one.
        planStale = true;
        if (module.equals("lm_head")) {
            lmHead = linear;
            return;
        }
        Matcher m = Pattern.compile("model\\.layers\\.(\\d+)\\.(self_attn|mlp)\\.(\\w+)")
                .matcher(module);
        if (!m.matches() || Integer.parseInt(m.group(1)) >= layers.length) {
            throw new IllegalArgumentException("no projection " + module + " in a " + layers.length + "-layer model");
        }
        DecoderLayer layer = layers[Integer.parseInt(m.group(1))];
        if (m.group(2).equals("self_attn")) {
            layer.selfAttn.replace(m.group(3), linear);
        } else {
            layer.mlp.replace(m.group(3), linear);
        }
    }

    /** Closes the plan: it holds references to the tensors it was made from. */
    private synchronized void resetFusedPlan() {
        if (plan != null) {
            plan.close();
            plan = null;
        }
    }

    @Override
    public void close() {
        resetFusedPlan();
        manager.close();
    }

    /** {@code lm_head} sharing the embedding matrix; closing it must not free the embedding twice. */
    private static final class TiedHead implements Linear {
        private final DenseLinear shared;

        TiedHead(NDArray embed) {
            shared = new DenseLinear(embed);
        }

        @Override
        public long inFeatures() {
            return shared.inFeatures();
        }

        @Override
        public long outFeatures() {
            return shared.outFeatures();
        }

        @Override
        public NDArray forward(NDArray x) {
            return shared.forward(x);
        }

        @Override
        public FusedProjection fused() {
            return shared.fused();
        }

        @Override
        public void close() {
            // The embedding owns the array.
        }
    }
}
