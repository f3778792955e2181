package ai.medqa.quant;

import java.util.Locale;

/**
 * How {@code lm_head} is held. Transformers (and bitsandbytes) keep it in the compute dtype, the
 * default here too; llama.cpp's 4-bit files store it in 6 bits. On small models it is the largest
 * matrix read per token (model M: 98 MB of its 146 MB in float32), on Mistral-7B 2% of the weights.
 * A head tied to the embedding keeps the embedding as it is and multiplies a quantized copy.
 */
public enum LmHead {
    /** The compute dtype, as transformers keeps it. */
    COMPUTE,
    /** int8 with one bf16 scale per row (vocabulary entry), on the packed int8 kernel. */
    INT8,
    /** Group-wise int4 with the model's INT4 group size, on the packed int4 kernel. */
    INT4;

    /** {@code compute}, {@code int8} or {@code int4}, as the command line spells them. */
    public static LmHead parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "unknown lm_head format \"" + name + "\"; expected compute, int8 or int4");
        }
    }
}
