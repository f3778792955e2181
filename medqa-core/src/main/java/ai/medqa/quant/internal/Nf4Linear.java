package ai.medqa.quant.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.medqa.model.Linear;
import ai.medqa.model.internal.DecoderStep;
import ai.medqa.model.internal.FusedProjection;
import ai.medqa.model.internal.Ops;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * {@code y = x W^T} with W held as NF4 on the model's device: packed codes (uint8, 4 bits a weight)
 * and the (double-quantized) absmax, as bitsandbytes keeps them. Inference runs one TorchScript call
 * per product ({@code DecoderStep}'s {@code nf4_mm}): a single-row input (a decode step) never
 * dequantizes W (it tabulates each input pair against the 256 byte values and sums the table entries
 * the packed bytes pick), several rows dequantize a band of rows at a time; weights stay 4-bit.
 * While gradients are recorded, and for block sizes other than 64, W is dequantized with DJL ops
 * (as bitsandbytes does, in float32) and multiplied, so training differentiates through the base.
 * Measured and dropped (README "Speed"): dequantizing the whole weight per call, bands in DJL ops,
 * and a dequantized copy kept at load (dense speed at dense memory).
 */
public final class Nf4Linear implements Linear {

    private final long in;
    private final long out;
    private final DataType dtype;
    private final int blockSize;
    private final long blocks;
    private final Tables tables;
    private final boolean ownsTables;
    private NDArray packed; // uint8 [blocks * blockSize / 2]: padded to whole blocks
    private NDArray absmax; // float32 [blocks], or null when double-quantized
    private NDArray qabsmax; // uint8 [nestedBlocks * nestedBlockSize]: padded to whole nested blocks
    private NDArray nestedAbsmax; // float32 [nestedBlocks]
    private final float offset;
    private final int nestedBlockSize;

    /**
     * The lookup tables an NF4 weight needs on the device: each byte's two code values, and the
     * nested 8-bit map. Layers with the same maps (all of a bitsandbytes model) share one.
     */
    public static final class Tables implements AutoCloseable {
        final float[] quantMap;
        final float[] nestedMap;
        final NDArray pairs; // float32 [256, 2]: byte b -> {code[b >> 4], code[b & 15]}
        final NDArray nested; // float32 [256, 1]

        public Tables(NDManager manager, float[] quantMap, float[] nestedMap) {
            this.quantMap = quantMap.clone();
            this.nestedMap = nestedMap == null ? null : nestedMap.clone();
            float[] p = new float[512];
            for (int b = 0; b < 256; b++) {
                p[2 * b] = quantMap[b >>> 4];
                p[2 * b + 1] = quantMap[b & 0x0F];
            }
            pairs = manager.create(p, new Shape(256, 2));
            nested = nestedMap == null ? null : manager.create(nestedMap, new Shape(256, 1));
        }

        public boolean fits(Nf4Weight w) {
            return Arrays.equals(quantMap, w.quantMap())
                    && (w.nested() == null
                            || (nestedMap != null
                                    && Arrays.equals(nestedMap, w.nested().quantMap())));
        }

        long bytes() {
            return 4L * 512 + (nested == null ? 0 : 4L * 256);
        }

        @Override
        public void close() {
            pairs.close();
            if (nested != null) {
                nested.close();
            }
        }
    }

    /** Puts {@code w} ({@code [out, in]}) on {@code manager}'s device with its own tables. */
    public static Nf4Linear of(Nf4Weight w, NDManager manager, DataType dtype) {
        Tables t = new Tables(
                manager, w.quantMap(), w.nested() == null ? null : w.nested().quantMap());
        return new Nf4Linear(w, manager, dtype, t, true);
    }

    /** Puts {@code w} on {@code manager}'s device using shared {@code tables} (not closed by this). */
    public static Nf4Linear of(Nf4Weight w, NDManager manager, DataType dtype, Tables tables) {
        if (!tables.fits(w)) {
            throw new IllegalArgumentException("the shared tables do not hold this weight's quant maps");
        }
        return new Nf4Linear(w, manager, dtype, tables, false);
    }

    private Nf4Linear(Nf4Weight w, NDManager manager, DataType dtype, Tables tables, boolean ownsTables) {
        long[] shape = w.shape();
        if (shape.length != 2) {
            throw new IllegalArgumentException("a linear weight is [out, in], got " + w);
        }
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16) {
            throw new IllegalArgumentException("compute dtype must be FLOAT32 or FLOAT16, got " + dtype);
        }
        this.out = shape[0];
        this.in = shape[1];
        this.dtype = dtype;
        this.blockSize = w.blockSize();
        this.blocks = w.blocks();
        this.tables = tables;
        this.ownsTables = ownsTables;
        // Whole blocks on the device let every kernel view the codes as [blocks, blockSize]; the
        // padding (at most one block's bytes) decodes to weights past the end that are cut off.
        byte[] p = Arrays.copyOf(w.packed(), Math.toIntExact(blocks * blockSize / 2));
        Arrays.fill(p, w.packed().length, p.length, (byte) 0x77);
        packed = uint8(manager, p);
        if (w.nested() == null) {
            absmax = float32(manager, w.absmax());
            offset = 0f;
            nestedBlockSize = 0;
        } else {
            Nf4Weight.Nested n = w.nested();
            nestedBlockSize = n.blockSize();
            qabsmax = uint8(manager, Arrays.copyOf(n.q(), n.absmax().length * n.blockSize()));
            nestedAbsmax = float32(manager, n.absmax());
            offset = n.offset();
        }
    }

    private static NDArray uint8(NDManager manager, byte[] bytes) {
        ByteBuffer buf = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
        // create() may wrap the Java buffer; duplicate() gives the array native memory of its own.
        try (NDArray wrapped = manager.create(buf, new Shape(bytes.length), DataType.UINT8)) {
            return wrapped.duplicate();
        }
    }

    private static NDArray float32(NDManager manager, float[] values) {
        ByteBuffer buf = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.nativeOrder());
        buf.asFloatBuffer().put(values);
        try (NDArray wrapped = manager.create(buf, new Shape(values.length), DataType.FLOAT32)) {
            return wrapped.duplicate();
        }
    }

    @Override
    public long inFeatures() {
        return in;
    }

    @Override
    public long outFeatures() {
        return out;
    }

    /** Bytes this layer holds on the device (its own arrays; shared tables are not counted). */
    public long deviceBytes() {
        long bytes = ownsTables ? tables.bytes() : 0;
        for (NDArray a : new NDArray[] {packed, absmax, qabsmax, nestedAbsmax}) {
            if (a != null) {
                bytes += a.size() * a.getDataType().getNumOfBytes();
            }
        }
        return bytes;
    }

    @Override
    public NDArray forward(NDArray x) {
        if (blockSize == 64 && !JniUtils.isGradMode()) {
            return DecoderStep.project(x, fused());
        }
        return Ops.linear(x, dequantize());
    }

    /** The form the fused step multiplies; null for block sizes other than 64 (op by op then). */
    @Override
    public FusedProjection fused() {
        if (blockSize != 64) {
            return null;
        }
        return new FusedProjection.Nf4(packed, tables.pairs, absmax, qabsmax, nestedAbsmax, tables.nested, offset, out);
    }

    /** W {@code [out, in]} in the compute dtype, dequantized as bitsandbytes does (in float32). */
    NDArray dequantize() {
        NDArray w = dequantize(blockScales(), 0, blocks);
        long n = out * in;
        if (blocks * blockSize != n) {
            w = w.reshape(-1).get(new NDIndex("0:{}", n));
        }
        w = w.reshape(out, in);
        return dtype == DataType.FLOAT32 ? w : w.toType(dtype, false);
    }

    /** Blocks {@code [b0, b0 + count)} as float32 {@code [count, blockSize]}. */
    private NDArray dequantize(NDArray scales, long b0, long count) {
        long half = blockSize / 2;
        NDArray codes =
                packed.get(new NDIndex("{}:{}", b0 * half, (b0 + count) * half)).toType(DataType.INT32, false);
        NDArray values = Ops.embedding(codes, tables.pairs); // [count * half, 2]
        NDArray s = scales.get(new NDIndex("{}:{}", b0, b0 + count)).reshape(count, 1);
        return values.reshape(count, blockSize).mul(s);
    }

    /** The float32 absmax per block; the nested form as bitsandbytes' dequantize_blockwise + offset. */
    private NDArray blockScales() {
        if (absmax != null) {
            return absmax;
        }
        long nestedBlocks = nestedAbsmax.size();
        NDArray codes = Ops.embedding(qabsmax.toType(DataType.INT32, false), tables.nested)
                .reshape(nestedBlocks, nestedBlockSize);
        NDArray scales =
                codes.mul(nestedAbsmax.reshape(nestedBlocks, 1)).add(offset).reshape(-1);
        return nestedBlocks * nestedBlockSize == blocks ? scales : scales.get(new NDIndex("0:{}", blocks));
    }

    @Override
    public void close() {
        for (NDArray a : new NDArray[] {packed, absmax, qabsmax, nestedAbsmax}) {
            if (a != null) {
                a.close();
            }
        }
        packed = null;
        absmax = null;
        qabsmax = null;
        nestedAbsmax = null;
        if (ownsTables) {
            tables.close();
        }
    }

    @Override
    public String toString() {
        return "Nf4Linear[" + out + "x" + in + ", " + dtype + "]";
    }
}
