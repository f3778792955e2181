package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.IValue;

/**
 * What a {@link Linear} hands the fused decoder step: its kind and its tensors, by name. The step
 * ({@code decoder_step.py}) multiplies each kind with the same operations the op-by-op path uses,
 * so every weight format runs as one TorchScript call per step.
 *
 * <p>Tensors the kernels want in bfloat16 are {@link IValue}s made inside TorchScript: DJL 0.36 must
 * never hold a bfloat16 array, so they never become one.
 */
public sealed interface FusedProjection {

    /**
     * {@code x W^T} with {@code weight [out, in]} in the compute dtype; with {@code bf16ManyRows}, a
     * float32 product of many rows takes bfloat16 GEMMs ({@link MatmulPrecision#MEDIUM}).
     */
    record Dense(NDArray weight, boolean bf16ManyRows) implements FusedProjection {
        public Dense(NDArray weight) {
            this(weight, false);
        }
    }

    /** {@code x W^T} with {@code weight [out, in]} in bfloat16 and bfloat16 activations ({@link Bf16Linear}). */
    record Bf16(IValue weight) implements FusedProjection {}

    /**
     * Group-wise asymmetric int4, {@code w = (q - 8) * scale + zero} per group of {@code groupSize}
     * inputs: {@code packed} in the int4 kernel's layout for the device, {@code scalesAndZeros}
     * bfloat16 {@code [in / groupSize, out, 2]}.
     */
    record Int4(NDArray packed, IValue scalesAndZeros, int groupSize) implements FusedProjection {}

    /** int8 {@code q [out, in]} with bfloat16 {@code scales [out]}: {@code w = q * scale}. */
    record Int8(NDArray q, IValue scales) implements FusedProjection {}

    /**
     * bitsandbytes NF4 with blocks of 64: {@code packed} codes (two a byte), {@code pairs [256, 2]}
     * (each byte's two code values), and either {@code absmax [blocks]} or the double-quantized
     * {@code qabsmax}, {@code nestedAbsmax}, {@code nestedMap [256, 1]} and {@code offset}.
     */
    record Nf4(NDArray packed, NDArray pairs, NDArray absmax, NDArray qabsmax, NDArray nestedAbsmax,
            NDArray nestedMap, float offset, long outFeatures) implements FusedProjection {}

    /**
     * {@code base(x)} plus, for each row, its adapter's {@code scaling * (x A^T) B^T} (PEFT's LoRA,
     * unmerged): every adapter attached to this projection, by id ({@link AdapterRows}); a row whose
     * adapter is not among them gets the base alone.
     */
    record WithLora(FusedProjection base, java.util.List<Lora> adapters) implements FusedProjection {
        public WithLora {
            adapters = java.util.List.copyOf(adapters);
            if (adapters.isEmpty()) {
                throw new IllegalArgumentException("a LoRA form needs at least one adapter");
            }
        }
    }

    /** One adapter of a {@link WithLora}: float32 {@code a [r, in]} and {@code b [out, r]}, its id and scaling. */
    record Lora(int id, NDArray a, NDArray b, float scaling) {}
}
