package ai.medqa.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.medqa.io.Checkpoint;
import ai.medqa.io.CheckpointException;
import ai.medqa.io.TensorInfo;
import ai.medqa.model.DenseLinear;
import ai.medqa.model.Linear;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.Weights;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link LinearFactory}s that quantize each projection as it loads: one tensor is read as float32,
 * quantized in Java and put on the device before the next is read, so peak memory is the quantized
 * model plus one full-precision tensor. {@code lm_head} (and any module the checkpoint's
 * {@code llm_int8_skip_modules} names) stays in the compute dtype, as transformers keeps it.
 * A bitsandbytes 4-bit checkpoint is read as stored.
 */
public final class QuantizedLinears implements LinearFactory {
    private static final Logger log = LoggerFactory.getLogger(QuantizedLinears.class);

    private enum Format { DENSE, NF4, INT8 }

    private final Format format;
    private final boolean doubleQuant;
    private final Nf4Linear.Kernel nf4Kernel;
    private final Int8Linear.Kernel int8Kernel;
    private final List<Nf4Linear.Tables> tables = new ArrayList<>();
    private List<String> skip;
    private long quantizedWeights;
    private long quantizedBytes;
    private long started;

    private QuantizedLinears(Format format, boolean doubleQuant, Nf4Linear.Kernel nf4Kernel, Int8Linear.Kernel int8Kernel) {
        this.format = format;
        this.doubleQuant = doubleQuant;
        this.nf4Kernel = nf4Kernel;
        this.int8Kernel = int8Kernel;
    }

    /** NF4 on load ({@code doubleQuant}: bitsandbytes' {@code bnb_4bit_use_double_quant}). */
    public static LinearFactory nf4(boolean doubleQuant, Nf4Linear.Kernel kernel) {
        return new QuantizedLinears(Format.NF4, doubleQuant, kernel, null);
    }

    /** INT8 (per output channel) on load; a 4-bit checkpoint is dequantized first. */
    public static LinearFactory int8(Int8Linear.Kernel kernel) {
        return new QuantizedLinears(Format.INT8, false, null, kernel);
    }

    /** Dense weights; a bitsandbytes 4-bit checkpoint is dequantized on load. */
    public static LinearFactory dense() {
        return new QuantizedLinears(Format.DENSE, false, null, null);
    }

    @Override
    public Linear create(String module, long in, long out, Weights weights) {
        Checkpoint c = weights.checkpoint();
        if (skip == null) {
            skip = skipped(c);
            started = System.nanoTime();
        }
        boolean prequantized = Nf4Checkpoint.isQuantized(c, module);
        boolean keep16 = module.equals("lm_head") || skip.stream().anyMatch(s -> module.equals(s) || module.endsWith("." + s));
        if (!prequantized && (format == Format.DENSE || keep16)) {
            return LinearFactory.DENSE.create(module, in, out, weights);
        }
        Nf4Weight nf4 = prequantized ? Nf4Checkpoint.read(c, module, out, in) : null;
        if (format == Format.DENSE || keep16) {
            return dense(Nf4.dequantize(nf4), out, in, weights);
        }
        Linear linear;
        if (format == Format.NF4) {
            if (nf4 == null) {
                nf4 = Nf4.quantize(floats(c, module, out, in), new long[] {out, in}, doubleQuant,
                        Nf4Checkpoint.torchName(c.info(module + ".weight").dtype()));
            }
            Nf4Linear l = Nf4Linear.of(nf4, weights.manager(), weights.dtype(), nf4Kernel, tables(nf4, weights));
            quantizedBytes += l.deviceBytes();
            linear = l;
        } else {
            float[] w = nf4 != null ? Nf4.dequantize(nf4) : floats(c, module, out, in);
            Int8Linear l = new Int8Linear(Int8Linear.Int8Weight.quantize(w, out, in), weights.manager(), weights.dtype(),
                    int8Kernel);
            quantizedBytes += l.deviceBytes();
            linear = l;
        }
        quantizedWeights += out * in;
        if (module.endsWith("mlp.down_proj")) {
            log.info("{}: {} weights as {} so far, {} MB, {} bits a weight, {} s", module, quantizedWeights, format,
                    quantizedBytes >> 20, String.format("%.3f", 8.0 * quantizedBytes / quantizedWeights),
                    (System.nanoTime() - started) / 1_000_000_000);
        } else {
            log.debug("{} [{}x{}] as {}", module, out, in, format);
        }
        return linear;
    }

    private Nf4Linear.Tables tables(Nf4Weight w, Weights weights) {
        for (Nf4Linear.Tables t : tables) {
            if (t.fits(w)) {
                return t;
            }
        }
        // Owned by the model's manager: freed when the model is closed.
        Nf4Linear.Tables t = new Nf4Linear.Tables(weights.manager(), w.quantMap(),
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
        if (c.directory() == null || !Files.isRegularFile(c.directory().resolve(MistralConfig.FILE_NAME))) {
            return List.of();
        }
        MistralConfig config = MistralConfig.load(c.directory());
        return Nf4Checkpoint.checkConfig(config.quantizationConfig(), c.directory());
    }

    @Override
    public String toString() {
        return "QuantizedLinears[" + format + (format == Format.NF4 ? ", " + nf4Kernel + (doubleQuant ? ", double quant" : "")
                : format == Format.INT8 ? ", " + int8Kernel : "") + "]";
    }
}
