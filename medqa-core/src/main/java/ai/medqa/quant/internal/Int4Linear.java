package ai.medqa.quant.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import ai.medqa.model.Linear;
import ai.medqa.model.internal.DecoderStep;
import ai.medqa.model.internal.FusedProjection;

/**
 * {@code y = x W^T} with W in group-wise int4 ({@link Int4Weight}), multiplied by PyTorch's packed
 * int4 kernels ({@code _weight_int4pack_mm_for_cpu}, on CUDA {@code _weight_int4pack_mm}) with
 * bfloat16 activations: the weight is packed once at load into the kernel's layout for the device
 * and never dequantized. The op-by-op forward and the fused step run the same script method.
 *
 * <p>No autograd: the kernels have no backward, so adapters cannot be trained on an INT4 base
 * (forward with gradients recorded fails clearly; use NF4 or INT8 for QLoRA).
 */
public final class Int4Linear implements Linear {
    private final long in;
    private final long out;
    private final int groupSize;
    private final NDArray packed; // the kernel's layout (CPU: uint8 [out, in / 2])
    private final IValue scalesAndZeros; // bfloat16 [in / group, out, 2], contiguous; only TorchScript sees it

    public Int4Linear(Int4Weight w, NDManager manager) {
        this.out = w.shape()[0];
        this.in = w.shape()[1];
        this.groupSize = w.groupSize();
        int rows = Math.toIntExact(out);
        int groups = Math.toIntExact(in / groupSize);
        packed = Int4Packing.pack(w.q(), out, in, manager);
        // The kernels read scales_and_zeros [groups, out, 2]; a strided view would be read as garbage.
        float[] sz = new float[groups * rows * 2];
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < groups; g++) {
                sz[(g * rows + r) * 2] = w.scales()[r * groups + g];
                sz[(g * rows + r) * 2 + 1] = w.zeros()[r * groups + g];
            }
        }
        try (NDArray f32 = manager.create(sz, new Shape(groups, out, 2))) {
            scalesAndZeros = DecoderStep.bf16(f32);
        } catch (RuntimeException e) {
            packed.close();
            throw e;
        }
    }

    public int groupSize() {
        return groupSize;
    }

    @Override
    public long inFeatures() {
        return in;
    }

    @Override
    public long outFeatures() {
        return out;
    }

    /** Bytes held on the device: 4 bits a weight plus two bfloat16 values per group. */
    public long deviceBytes() {
        return packed.size() * packed.getDataType().getNumOfBytes() + 4 * (in / groupSize) * out;
    }

    @Override
    public NDArray forward(NDArray x) {
        if (JniUtils.isGradMode()) {
            throw new UnsupportedOperationException(
                    "an INT4 base has no gradient path (PyTorch's packed int4 kernels have "
                            + "no backward): train adapters on an NF4 or INT8 base instead");
        }
        return DecoderStep.project(x, fused());
    }

    @Override
    public FusedProjection fused() {
        return new FusedProjection.Int4(packed, scalesAndZeros, groupSize);
    }

    @Override
    public void close() {
        packed.close();
        scalesAndZeros.close();
    }

    @Override
    public String toString() {
        return "Int4Linear[" + out + "x" + in + ", group " + groupSize + "]";
    }
}
