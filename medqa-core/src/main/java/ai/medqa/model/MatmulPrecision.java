package ai.medqa.model;

import java.util.Locale;

/**
 * Internal precision of float32 matrix products, as PyTorch's
 * {@code torch.set_float32_matmul_precision} names it. {@link #HIGHEST} (the default, PyTorch's too)
 * computes them in float32; {@link #MEDIUM} lets products of many rows (prefill, likelihood scoring,
 * batches from 128 rows) of an F32 model run as bfloat16 GEMMs: the weight converted band by band,
 * the inputs and outputs rounded to bfloat16, float32 accumulation (the numbers of
 * {@code Precision.BF16}'s products): a 400-token prefill 1.6-1.7x faster on a 1.1B model here,
 * 1.2-1.9x on a 100M one. Decode (few rows) stays float32 either way: there reading the weight
 * dominates and converting it would cost more than it saves. Off by default, as in PyTorch,
 * because it changes the logits (by about transformers' own bfloat16 error).
 */
public enum MatmulPrecision {
    /** float32 products throughout. */
    HIGHEST,
    /** bfloat16 GEMMs for float32 products of 128 rows or more. */
    MEDIUM;

    /** {@code highest} or {@code medium}, as the command line and PyTorch spell them. */
    public static MatmulPrecision parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "unknown float32 matmul precision \"" + name + "\"; expected highest or " + "medium");
        }
    }
}
