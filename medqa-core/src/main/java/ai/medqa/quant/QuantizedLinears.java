package ai.medqa.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.medqa.io.Checkpoint;
import ai.medqa.io.CheckpointException;
import ai.medqa.io.GgmlType;
import ai.medqa.io.TensorInfo;
import ai.medqa.model.DenseLinear;
import ai.medqa.model.GgufModel;
import ai.medqa.model.Linear;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.Weights;
import ai.medqa.quant.internal.Int4Linear;
import ai.medqa.quant.internal.Int4Weight;
import ai.medqa.quant.internal.Int8Linear;
import ai.medqa.quant.internal.Nf4;
import ai.medqa.quant.internal.Nf4Linear;
import ai.medqa.quant.internal.Nf4Weight;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link LinearFactory}s that quantize each projection as it loads: one tensor is read as float32,
 * quantized in Java and put on the device before the next is read, so peak memory is the quantized
 * model plus one full-precision tensor. {@code lm_head} (and any module the checkpoint's
 * {@code llm_int8_skip_modules} names) stays in the compute dtype, as transformers keeps it, unless
 * {@link #lmHead} says otherwise. A quantized checkpoint (bitsandbytes NF4, MedQA INT4/INT8) is read
 * as stored.
 *
 * <p>Each projection is decided in three steps, one method each: what the checkpoint holds for it
 * ({@link #create}: MedQA's packed int4/int8, bitsandbytes NF4, or full precision), what it becomes
 * ({@link #target}: the head's format, the compute dtype, NF4 as stored, or this factory's format),
 * and the quantizer that makes it ({@link #quantize}).
 */
public final class QuantizedLinears implements LinearFactory {
    private static final Logger log = LoggerFactory.getLogger(QuantizedLinears.class);

    /** int4's default group size: torchao's, and the measured sweet spot of error against size (see README). */
    public static final int DEFAULT_GROUP_SIZE = 64;

    /** What one projection becomes. */
    private enum Target {
        /** {@code lm_head} in {@link #head}'s format. */
        HEAD,
        /** Dense in the compute dtype (a 4-bit checkpoint's weight dequantized). */
        COMPUTE,
        /** A bitsandbytes NF4 weight as stored. */
        NF4_AS_STORED,
        /** This factory's {@link #format}. */
        FORMAT
    }

    private final Quantization format;
    private final boolean doubleQuant;
    private int groupSize = DEFAULT_GROUP_SIZE;
    private LmHead head = LmHead.COMPUTE;
    private int headGroupSize = DEFAULT_GROUP_SIZE;
    private boolean dequantize;
    /** The checkpoint's own int4/int8 format ({@link PackedCheckpoint}), or null. */
    private String packedFormat;

    private int packedGroupSize;
    private long requantWeights;
    private final List<Nf4Linear.Tables> tables = new ArrayList<>();
    private List<String> skip;
    private long quantizedWeights;
    private final Set<String> ggufMappings = new HashSet<>();
    private long quantizedBytes;
    private long started;

    private QuantizedLinears(Quantization format, boolean doubleQuant) {
        this.format = format;
        this.doubleQuant = doubleQuant;
    }

    /** NF4 on load ({@code doubleQuant}: bitsandbytes' {@code bnb_4bit_use_double_quant}). */
    public static QuantizedLinears nf4(boolean doubleQuant) {
        return new QuantizedLinears(Quantization.NF4, doubleQuant);
    }

    /** INT8 (per output channel) on load; a 4-bit checkpoint is dequantized first. */
    public static QuantizedLinears int8() {
        return new QuantizedLinears(Quantization.INT8, false);
    }

    /**
     * Group-wise int4 on load ({@link Int4Weight}); a bitsandbytes NF4 checkpoint is dequantized and
     * requantized (a warning reports the added error). Projections whose input size is not a
     * multiple of {@code groupSize} stay in the compute dtype.
     */
    public static QuantizedLinears int4(int groupSize) {
        if (!Int4Weight.supportedGroupSize(groupSize)) {
            throw new IllegalArgumentException("int4 group size must be 32, 64, 128 or 256, got " + groupSize);
        }
        QuantizedLinears f = new QuantizedLinears(Quantization.INT4, false);
        f.groupSize = groupSize;
        return f;
    }

    /**
     * Full-precision weights as stored; a quantized checkpoint (bitsandbytes NF4, MedQA INT4/INT8)
     * loads as stored.
     */
    public static QuantizedLinears dense() {
        return new QuantizedLinears(Quantization.NONE, false);
    }

    /**
     * Dense weights in the compute dtype; a quantized checkpoint (bitsandbytes NF4, MedQA INT4/INT8,
     * a GGUF file's blocks) is dequantized on load to exactly its stored values.
     */
    public static QuantizedLinears dequantizing() {
        QuantizedLinears f = dense();
        f.dequantize = true;
        return f;
    }

    /**
     * The same factory with {@code lm_head} held as {@code head} ({@code groupSize}: an INT4 head's),
     * tied heads included: at small model sizes it is the largest matrix read per token.
     */
    public QuantizedLinears lmHead(LmHead head, int groupSize) {
        if (head == LmHead.INT4 && !Int4Weight.supportedGroupSize(groupSize)) {
            throw new IllegalArgumentException("int4 group size must be 32, 64, 128 or 256, got " + groupSize);
        }
        this.head = Objects.requireNonNull(head, "head");
        this.headGroupSize = groupSize;
        return this;
    }

    /**
     * A quantized copy of the embedding as {@code lm_head} when the head is not kept in the compute
     * dtype; the embedding itself stays as it is for the lookup.
     */
    @Override
    public Linear tiedHead(String embedding, long in, long out, Weights weights) {
        if (head == LmHead.COMPUTE) {
            return null;
        }
        Checkpoint c = weights.checkpoint();
        return quantizedHead(embedding, floats(c, embedding, out, in), in, out, weights);
    }

    /** {@code lm_head} from its float32 weight {@code w}, as {@link #head} asks (not COMPUTE). */
    private Linear quantizedHead(String module, float[] w, long in, long out, Weights weights) {
        if (head == LmHead.INT4
                && Int4Weight.packable(
                        out, in, headGroupSize, weights.manager().getDevice().isGpu())) {
            Int4Linear l = new Int4Linear(Int4Weight.quantize(w, out, in, headGroupSize), weights.manager());
            log.info(
                    "lm_head from {} [{}x{}] as int4 (group {}), {} MB",
                    module,
                    out,
                    in,
                    headGroupSize,
                    l.deviceBytes() >> 20);
            return l;
        }
        if (head == LmHead.INT4) {
            log.warn(
                    "lm_head [{}x{}]: the int4 kernels cannot take this shape with group size {}; int8 instead",
                    out,
                    in,
                    headGroupSize);
        }
        Int8Linear l = new Int8Linear(Int8Linear.Int8Weight.quantize(w, out, in), weights.manager(), weights.dtype());
        log.info("lm_head from {} [{}x{}] as int8, {} MB", module, out, in, l.deviceBytes() >> 20);
        return l;
    }

    /** Step 1: what the checkpoint holds for {@code module}. */
    @Override
    public Linear create(String module, long in, long out, Weights weights) {
        Checkpoint c = weights.checkpoint();
        if (skip == null) {
            readQuantizationConfig(c);
        }
        if (packedFormat != null && PackedCheckpoint.isQuantized(c, module)) {
            return stored(c, module, in, out, weights);
        }
        // A GGUF file's projections load as stored, and so does its head unless --lm-head asks otherwise:
        // llama.cpp's converter stores it Q6_K, and an int8 head instead of a float32 one is 7% faster
        // decode and 390 MB less on Mistral-7B here (llama.cpp multiplies the stored Q6_K too).
        GgufModel.Stored gguf =
                format == Quantization.NONE && !dequantize && (!module.equals("lm_head") || head == LmHead.COMPUTE)
                        ? GgufModel.stored(c, module + ".weight")
                        : null;
        if (gguf != null) {
            Linear l = ggufAsStored(gguf, module, in, out, weights);
            if (l != null) {
                return l;
            }
        }
        Nf4Weight nf4 = Nf4Checkpoint.isQuantized(c, module) ? Nf4Checkpoint.read(c, module, out, in) : null;
        return switch (target(module, in, out, weights, nf4 != null)) {
            case HEAD ->
                quantizedHead(module, nf4 != null ? Nf4.dequantize(nf4) : floats(c, module, out, in), in, out, weights);
            case COMPUTE ->
                nf4 == null
                        ? LinearFactory.DENSE.create(module, in, out, weights)
                        : dense(Nf4.dequantize(nf4), out, in, weights);
            case NF4_AS_STORED -> counted(Nf4Linear.of(nf4, weights.manager(), weights.dtype(), tables(nf4, weights)));
            case FORMAT -> quantize(module, c, nf4, in, out, weights);
        };
    }

    /** Step 2: what {@code module} becomes (a stored NF4 weight when {@code nf4}). */
    private Target target(String module, long in, long out, Weights weights, boolean nf4) {
        if (module.equals("lm_head")) {
            return head != LmHead.COMPUTE ? Target.HEAD : Target.COMPUTE;
        }
        if (skip.stream().anyMatch(s -> module.equals(s) || module.endsWith("." + s))) {
            return Target.COMPUTE;
        }
        if (format == Quantization.INT4
                && !Int4Weight.packable(
                        out, in, groupSize, weights.manager().getDevice().isGpu())) {
            log.warn(
                    "{} [{}x{}]: the int4 kernels cannot take this shape with group size {}; kept in {}",
                    module,
                    out,
                    in,
                    groupSize,
                    weights.dtype());
            return Target.COMPUTE;
        }
        if (format == Quantization.NONE) {
            // A quantized checkpoint loads as stored unless a format (or dequantizing) is asked for.
            return nf4 && !dequantize ? Target.NF4_AS_STORED : Target.COMPUTE;
        }
        return Target.FORMAT;
    }

    /** Step 3: {@code module} in this factory's format, from its stored NF4 weight or its full-precision one. */
    private Linear quantize(String module, Checkpoint c, Nf4Weight nf4, long in, long out, Weights weights) {
        Linear linear = switch (format) {
            case INT4 -> {
                float[] w = nf4 != null ? Nf4.dequantize(nf4) : floats(c, module, out, in);
                Int4Weight q = Int4Weight.quantize(w, out, in, groupSize);
                if (nf4 != null) {
                    requantized(module, w, q);
                }
                yield new Int4Linear(q, weights.manager());
            }
            case NF4 -> {
                Nf4Weight q = nf4 != null
                        ? nf4
                        : Nf4.quantize(
                                floats(c, module, out, in),
                                new long[] {out, in},
                                doubleQuant,
                                Nf4Checkpoint.torchName(
                                        c.info(module + ".weight").dtype()));
                yield Nf4Linear.of(q, weights.manager(), weights.dtype(), tables(q, weights));
            }
            case INT8 -> {
                float[] w = nf4 != null ? Nf4.dequantize(nf4) : floats(c, module, out, in);
                yield new Int8Linear(Int8Linear.Int8Weight.quantize(w, out, in), weights.manager(), weights.dtype());
            }
            case NONE -> throw new IllegalStateException("NONE never quantizes");
        };
        counted(linear);
        quantizedWeights += out * in;
        if (module.endsWith("mlp.down_proj")) {
            log.info(
                    "{}: {} weights as {} so far, {} MB, {} bits a weight, {} s",
                    module,
                    quantizedWeights,
                    format,
                    quantizedBytes >> 20,
                    String.format("%.3f", 8.0 * quantizedBytes / quantizedWeights),
                    (System.nanoTime() - started) / 1_000_000_000);
        } else {
            log.debug("{} [{}x{}] as {}", module, out, in, format);
        }
        return linear;
    }

    /**
     * A GGUF projection "as stored": 4-bit blocks (Q4_0, Q4_1, Q4_K) as INT4 groups of 32 with the
     * same codes ({@link GgufWeights}), 5-8-bit ones (Q5_K, Q6_K, Q8_0) requantized to INT8 rows;
     * null for float tensors (kept in the compute dtype). Logs the added error of each tensor (relative
     * RMS against ggml's dequantized values).
     */
    private Linear ggufAsStored(GgufModel.Stored s, String module, long in, long out, Weights weights) {
        GgmlType type = s.tensor().type();
        boolean gpu = weights.manager().getDevice().isGpu();
        boolean int4 = GgufWeights.int4(type) && Int4Weight.packable(out, in, 32, gpu);
        if (!int4 && (type == GgmlType.F32 || type == GgmlType.F16 || type == GgmlType.BF16)) {
            return null;
        }
        String as = int4 ? "int4 (group 32, same codes)" : "int8 (requantized per row)";
        boolean first = ggufMappings.add(type + " " + as);
        // Measuring the added error costs a dequantization (most of the load): the first tensor of each
        // kind at INFO, every tensor at DEBUG.
        boolean measure = first || log.isDebugEnabled();
        float[] stored = !int4 || measure ? weights.checkpoint().readFloats(module + ".weight") : null;
        Linear linear;
        float[] ours = null;
        if (int4) {
            Int4Weight w = GgufWeights.int4(s, out, in);
            ours = measure ? w.dequantize() : null;
            linear = new Int4Linear(w, weights.manager());
        } else {
            Int8Linear.Int8Weight w = Int8Linear.Int8Weight.quantize(stored, out, in);
            ours = measure ? w.dequantize() : null;
            linear = new Int8Linear(w, weights.manager(), weights.dtype());
        }
        if (measure) {
            double diff = 0;
            double norm = 0;
            for (int i = 0; i < ours.length; i++) {
                diff += (ours[i] - stored[i]) * (double) (ours[i] - stored[i]);
                norm += stored[i] * (double) stored[i];
            }
            String error = String.format("%.2e", Math.sqrt(diff / Math.max(norm, 1e-30)));
            if (first) {
                log.info(
                        "GGUF {} weights load as {}; {}: added relative RMS error {} (each tensor's at DEBUG)",
                        type,
                        as,
                        module,
                        error);
            } else {
                log.debug("{}: GGUF {} as {}, added relative RMS error {}", module, type, as, error);
            }
        }
        counted(linear);
        quantizedWeights += out * in;
        if (module.endsWith("mlp.down_proj")) {
            log.info(
                    "{}: {} weights as stored so far, {} MB, {} s",
                    module,
                    quantizedWeights,
                    quantizedBytes >> 20,
                    (System.nanoTime() - started) / 1_000_000_000);
        }
        return linear;
    }

    /** Adds {@code linear}'s device bytes to the running total the progress lines report. */
    private Linear counted(Linear linear) {
        if (linear instanceof Int4Linear l) {
            quantizedBytes += l.deviceBytes();
        } else if (linear instanceof Int8Linear l) {
            quantizedBytes += l.deviceBytes();
        } else if (linear instanceof Nf4Linear l) {
            quantizedBytes += l.deviceBytes();
        }
        return linear;
    }

    /** The checkpoint's {@code quantization_config}, once: modules kept in 16 bits, a stored int4/int8 format. */
    private void readQuantizationConfig(Checkpoint c) {
        skip = skipped(c);
        started = System.nanoTime();
        JsonNode q = !hasConfig(c) ? null : MistralConfig.load(c.directory()).quantizationConfig();
        packedFormat = PackedCheckpoint.format(q);
        if (packedFormat != null) {
            packedGroupSize = q.path("group_size").asInt(DEFAULT_GROUP_SIZE);
            if (format != Quantization.NONE && !format.name().equalsIgnoreCase(packedFormat)) {
                log.warn("{} is stored as {}: it loads as stored, not as {}", c.directory(), packedFormat, format);
            }
        }
    }

    /** A projection of a MedQA int4/int8 checkpoint, as stored (dense if this device's kernels cannot take it). */
    private Linear stored(Checkpoint c, String module, long in, long out, Weights weights) {
        if (dequantize) {
            float[] w = packedFormat.equals("int8")
                    ? PackedCheckpoint.readInt8(c, module, out, in).dequantize()
                    : PackedCheckpoint.readInt4(c, module, out, in, packedGroupSize)
                            .dequantize();
            return dense(w, out, in, weights);
        }
        if (packedFormat.equals("int8")) {
            return counted(
                    new Int8Linear(PackedCheckpoint.readInt8(c, module, out, in), weights.manager(), weights.dtype()));
        }
        Int4Weight w = PackedCheckpoint.readInt4(c, module, out, in, packedGroupSize);
        if (!Int4Weight.packable(
                out, in, packedGroupSize, weights.manager().getDevice().isGpu())) {
            log.warn(
                    "{} [{}x{}]: this device's int4 kernels cannot take the shape; dequantized to {}",
                    module,
                    out,
                    in,
                    weights.dtype());
            return dense(w.dequantize(), out, in, weights);
        }
        return counted(new Int4Linear(w, weights.manager()));
    }

    /** An NF4 weight requantized to int4: warns once, then reports the added relative RMS error. */
    private void requantized(String module, float[] nf4, Int4Weight q) {
        float[] w = q.dequantize();
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < w.length; i++) {
            diff += (w[i] - nf4[i]) * (double) (w[i] - nf4[i]);
            norm += nf4[i] * (double) nf4[i];
        }
        if (requantWeights == 0) {
            log.warn("requantizing a bitsandbytes NF4 checkpoint to int4: each weight carries both rounding errors");
        }
        requantWeights += w.length;
        log.info("{}: int4 minus NF4 weights, relative RMS {}", module, String.format("%.4f", Math.sqrt(diff / norm)));
    }

    private Nf4Linear.Tables tables(Nf4Weight w, Weights weights) {
        for (Nf4Linear.Tables t : tables) {
            if (t.fits(w)) {
                return t;
            }
        }
        // Owned by the model's manager: freed when the model is closed.
        Nf4Linear.Tables t = new Nf4Linear.Tables(
                weights.manager(),
                w.quantMap(),
                w.nested() == null ? null : w.nested().quantMap());
        tables.add(t);
        return t;
    }

    private static float[] floats(Checkpoint c, String module, long out, long in) {
        String name = module + ".weight";
        TensorInfo info = c.info(name);
        if (!Arrays.equals(info.shape(), new long[] {out, in})) {
            throw new CheckpointException(c.directory() + ": tensor " + name + " has shape "
                    + Arrays.toString(info.shape()) + "; config.json implies [" + out + ", " + in + "]");
        }
        return c.readFloats(name);
    }

    private static Linear dense(float[] w, long out, long in, Weights weights) {
        // duplicate() copies: create() may wrap a Java buffer, and toType() to the same dtype aliases it.
        try (NDArray wrapped = weights.manager().create(w, new Shape(out, in))) {
            NDArray own = wrapped.duplicate();
            if (weights.dtype() == DataType.FLOAT32) {
                return new DenseLinear(own);
            }
            try (own) {
                return new DenseLinear(own.toType(weights.dtype(), false));
            }
        }
    }

    /** The checkpoint's {@code quantization_config}, checked, gives the modules kept in 16 bits. */
    private static List<String> skipped(Checkpoint c) {
        if (!hasConfig(c)) {
            return List.of();
        }
        MistralConfig config = MistralConfig.load(c.directory());
        return Nf4Checkpoint.checkConfig(config.quantizationConfig(), c.directory());
    }

    /**
     * Whether {@code c}'s own config.json is there to read. A checkpoint from another source (a GGUF
     * file) carries its configuration in the file: a config.json in the same folder belongs to
     * something else.
     */
    private static boolean hasConfig(Checkpoint c) {
        return c.source() == null
                && c.directory() != null
                && Files.isRegularFile(c.directory().resolve(MistralConfig.FILE_NAME));
    }

    @Override
    public String toString() {
        return "QuantizedLinears[" + format + (format == Quantization.NF4 && doubleQuant ? ", double quant" : "")
                + (format == Quantization.INT4 ? ", group " + groupSize : "")
                + (head != LmHead.COMPUTE ? ", lm_head " + head.name().toLowerCase(Locale.ROOT) : "") + "]";
    }
}
