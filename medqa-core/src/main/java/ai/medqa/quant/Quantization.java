package ai.medqa.quant;

import ai.medqa.model.LinearFactory;
import java.util.Locale;

/**
 * How the projections of a model are held: as stored, NF4 (bitsandbytes' 4-bit, exact to its
 * format; for bitsandbytes checkpoints and QLoRA), INT4 (group-wise int4 on PyTorch's packed
 * kernels; the fastest) or INT8.
 */
public enum Quantization {
    /** As stored: full-precision weights in the compute dtype; a quantized checkpoint (NF4, INT4, INT8) as stored. */
    NONE,
    /** NF4 with double quantization, quantized on load (or read as is from a bitsandbytes checkpoint). */
    NF4,
    /** int8 with one scale per output channel, on PyTorch's packed int8 kernel. */
    INT8,
    /** Group-wise asymmetric int4 (groups of 64 inputs by default), on PyTorch's packed int4 kernels. */
    INT4;

    /**
     * The factory to pass to {@code MistralModel.load}: projections quantized tensor by tensor as
     * they load; {@code lm_head}, embeddings and norms stay in the compute dtype.
     */
    public LinearFactory linears() {
        return linears(QuantizedLinears.DEFAULT_GROUP_SIZE, LmHead.COMPUTE);
    }

    /**
     * As {@link #linears()}, with int4's group size ({@code groupSize}, 32/64/128/256; also an INT4
     * head's) and {@code lm_head} held as {@code head}.
     */
    public LinearFactory linears(int groupSize, LmHead head) {
        return linears(groupSize, head, false);
    }

    /**
     * As {@link #linears(int, LmHead)}; with {@code dequantize} (NONE only) a quantized checkpoint's
     * projections are dequantized to the compute dtype instead of loading as stored.
     */
    public LinearFactory linears(int groupSize, LmHead head, boolean dequantize) {
        if (dequantize && this != NONE) {
            throw new IllegalArgumentException("dequantizing applies to quantization none, not " + this);
        }
        QuantizedLinears f = switch (this) {
            case NONE -> dequantize ? QuantizedLinears.dequantizing() : QuantizedLinears.dense();
            case NF4 -> QuantizedLinears.nf4(true);
            case INT8 -> QuantizedLinears.int8();
            case INT4 -> QuantizedLinears.int4(groupSize);
        };
        return f.lmHead(head, groupSize);
    }

    /** {@code nf4}, {@code int4}, {@code int8} or {@code none}, as the command line spells them. */
    public static Quantization parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "unknown quantization \"" + name + "\"; expected nf4, int4, int8 or none");
        }
    }
}
