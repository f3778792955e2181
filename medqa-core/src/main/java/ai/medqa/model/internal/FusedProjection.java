package ai.medqa.model.internal;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * What a {@link ai.medqa.model.Linear} hands the fused decoder step: its kind and its tensors, by name. The step
 * ({@code decoder_step.py}) multiplies each kind with the same operations the op-by-op path uses,
 * so every weight format runs as one TorchScript call per step.
 *
 * <p>Tensors the kernels want in bfloat16 are {@link IValue}s made inside TorchScript: DJL 0.36 must
 * never hold a bfloat16 array, so they never become one.
 */
public sealed interface FusedProjection {

    /**
     * A weight format as the step reads it: each format says here, in one place, its kind number
     * ({@link DecoderStep}'s constants, checked against {@code decoder_step.py}), its parameter, the
     * tensors of its list and the native handles that identify it.
     */
    sealed interface Format extends FusedProjection {
        /** The script's kind number. */
        int kind();

        /** The script's parameter for this kind (the header of {@code decoder_step.py}). */
        long param();

        /** The script's tensor list, made through {@code e} (which owns what it makes). */
        IValue tensors(Encoder e);

        /** The native handles (and settings) that identify this form: equal ones, the same product. */
        void identity(LongConsumer out);

        /** The format's name in logs. */
        String label();
    }

    /** What a {@link Format} makes its tensor list with ({@link DecoderStep}: it owns and frees them). */
    interface Encoder {
        /** A list of the arrays' tensors. */
        IValue list(NDArray... arrays);

        /** A list of values. */
        IValue list(IValue... values);

        /** One array's tensor. */
        IValue of(NDArray array);

        /** A 0-d float32 array of its own on {@code device}. */
        NDArray scalar(float value, Device device);
    }

    private static long handle(NDArray a) {
        return ((PtNDArray) a).getHandle();
    }

    /**
     * {@code x W^T} with {@code weight [out, in]} in the compute dtype; with {@code bf16ManyRows}, a
     * float32 product of many rows takes bfloat16 GEMMs ({@link ai.medqa.model.MatmulPrecision#MEDIUM}).
     */
    record Dense(NDArray weight, boolean bf16ManyRows) implements Format {
        public Dense(NDArray weight) {
            this(weight, false);
        }

        @Override
        public int kind() {
            return DecoderStep.DENSE;
        }

        @Override
        public long param() {
            return bf16ManyRows ? 1 : 0;
        }

        @Override
        public IValue tensors(Encoder e) {
            return e.list(weight);
        }

        @Override
        public void identity(LongConsumer out) {
            out.accept(handle(weight));
            out.accept(param());
        }

        @Override
        public String label() {
            return "dense";
        }
    }

    /** {@code x W^T} with {@code weight [out, in]} in bfloat16 and bfloat16 activations ({@link ai.medqa.model.Bf16Linear}). */
    record Bf16(IValue weight) implements Format {
        @Override
        public int kind() {
            return DecoderStep.BF16;
        }

        @Override
        public long param() {
            return 0;
        }

        @Override
        public IValue tensors(Encoder e) {
            return e.list(weight);
        }

        @Override
        public void identity(LongConsumer out) {
            out.accept(weight.getHandle());
        }

        @Override
        public String label() {
            return "bf16";
        }
    }

    /**
     * Group-wise asymmetric int4, {@code w = (q - 8) * scale + zero} per group of {@code groupSize}
     * inputs: {@code packed} in the int4 kernel's layout for the device, {@code scalesAndZeros}
     * bfloat16 {@code [in / groupSize, out, 2]}.
     */
    record Int4(NDArray packed, IValue scalesAndZeros, int groupSize) implements Format {
        @Override
        public int kind() {
            return DecoderStep.INT4;
        }

        @Override
        public long param() {
            return groupSize;
        }

        @Override
        public IValue tensors(Encoder e) {
            return e.list(e.of(packed), scalesAndZeros);
        }

        @Override
        public void identity(LongConsumer out) {
            out.accept(handle(packed));
            out.accept(scalesAndZeros.getHandle());
        }

        @Override
        public String label() {
            return "int4";
        }
    }

    /** int8 {@code q [out, in]} with bfloat16 {@code scales [out]}: {@code w = q * scale}. */
    record Int8(NDArray q, IValue scales) implements Format {
        @Override
        public int kind() {
            return DecoderStep.INT8;
        }

        @Override
        public long param() {
            return 0;
        }

        @Override
        public IValue tensors(Encoder e) {
            return e.list(e.of(q), scales);
        }

        @Override
        public void identity(LongConsumer out) {
            out.accept(handle(q));
            out.accept(scales.getHandle());
        }

        @Override
        public String label() {
            return "int8";
        }
    }

    /**
     * bitsandbytes NF4 with blocks of 64: {@code packed} codes (two a byte), {@code pairs [256, 2]}
     * (each byte's two code values), and either {@code absmax [blocks]} or the double-quantized
     * {@code qabsmax}, {@code nestedAbsmax}, {@code nestedMap [256, 1]} and {@code offset}.
     */
    record Nf4(
            NDArray packed,
            NDArray pairs,
            NDArray absmax,
            NDArray qabsmax,
            NDArray nestedAbsmax,
            NDArray nestedMap,
            float offset,
            long outFeatures)
            implements Format {
        @Override
        public int kind() {
            return DecoderStep.NF4;
        }

        @Override
        public long param() {
            return outFeatures;
        }

        @Override
        public IValue tensors(Encoder e) {
            return absmax != null
                    ? e.list(packed, pairs, absmax)
                    : e.list(packed, pairs, qabsmax, nestedAbsmax, nestedMap, e.scalar(offset, packed.getDevice()));
        }

        @Override
        public void identity(LongConsumer out) {
            out.accept(handle(packed));
            out.accept(handle(absmax != null ? absmax : qabsmax));
        }

        @Override
        public String label() {
            return "nf4";
        }
    }

    /**
     * {@code base(x)} plus, for each row, its adapter's {@code scaling * (x A^T) B^T} (PEFT's LoRA,
     * unmerged): every adapter attached to this projection, by id ({@link ai.medqa.model.AdapterRows}); a row whose
     * adapter is not among them gets the base alone.
     */
    record WithLora(FusedProjection base, List<Lora> adapters) implements FusedProjection {
        public WithLora {
            adapters = List.copyOf(adapters);
            if (adapters.isEmpty()) {
                throw new IllegalArgumentException("a LoRA form needs at least one adapter");
            }
        }
    }

    /** One adapter of a {@link WithLora}: float32 {@code a [r, in]} and {@code b [out, r]}, its id and scaling. */
    record Lora(int id, NDArray a, NDArray b, float scaling) {}
}
