package ai.medqa.quant.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.medqa.io.Buffers;
import ai.medqa.model.internal.DecoderStep;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Int4 codes into the CPU kernel's layout, in Java. PyTorch's own packing
 * ({@code _convert_weight_to_int4pack_for_cpu}) takes int32 codes: widening a 7B model's codes to
 * int32 and packing them took about half of a GGUF file's load here. The layout (PyTorch 2.7 on
 * AVX-512: blocks of 64 output rows, each {@code [in, 32]} bytes, byte {@code d} holding rows
 * {@code d} (low nibble) and {@code d + 32} (high), byte {@code 16 + d} rows {@code d + 16} and
 * {@code d + 48}; a last block of 16, 32 or 48 rows as pairs of consecutive rows) is what
 * {@code decoder_step.py}'s {@code int4_bands} reads too. Whether this PyTorch lays codes out so
 * is checked once per process on a probe, against PyTorch packing the same codes; if not (another
 * CPU capability, another version), PyTorch packs every weight as before.
 */
final class Int4Packing {
    private static final Logger log = LoggerFactory.getLogger(Int4Packing.class);
    private static volatile Boolean javaMatches;

    private Int4Packing() {}

    /** {@code q [out, in]} (codes 0..15) packed for the kernels of {@code manager}'s device. */
    static NDArray pack(byte[] q, long out, long in, NDManager manager) {
        if (!manager.getDevice().isGpu() && matches(manager)) {
            return java(q, Math.toIntExact(out), Math.toIntExact(in), manager);
        }
        return byPyTorch(q, out, in, manager);
    }

    private static NDArray byPyTorch(byte[] q, long out, long in, NDManager manager) {
        // The codes go over as uint8 and PyTorch widens them to the int32 its packing takes.
        ByteBuffer codes = ByteBuffer.allocateDirect(q.length).order(ByteOrder.nativeOrder());
        codes.put(q).flip();
        try (NDArray u8 = manager.create(codes, new Shape(out, in), DataType.UINT8);
                NDArray q32 = u8.toType(DataType.INT32, false)) {
            return DecoderStep.packInt4(q32);
        } finally {
            Buffers.release(codes);
        }
    }

    private static NDArray java(byte[] q, int rows, int cols, NDManager manager) {
        byte[] packed = layout(q, rows, cols);
        ByteBuffer b = ByteBuffer.allocateDirect(packed.length).order(ByteOrder.nativeOrder());
        b.put(packed).flip();
        // DJL wraps a direct buffer without copying it: the tensor gets its own copy before the buffer goes.
        try (NDArray view = manager.create(b, new Shape(rows, cols / 2), DataType.UINT8)) {
            return view.duplicate();
        } finally {
            Buffers.release(b);
        }
    }

    /** The layout described above, rows of 64-row blocks in parallel. */
    static byte[] layout(byte[] q, int rows, int cols) {
        byte[] out = new byte[rows / 2 * cols];
        int full = rows / 64;
        IntStream.range(0, full + (rows % 64 == 0 ? 0 : 1)).parallel().forEach(blk -> {
            int row0 = blk * 64;
            int size = Math.min(64, rows - row0);
            int base = row0 / 2 * cols;
            if (size == 64) {
                for (int k = 0; k < cols; k++) {
                    int at = base + k * 32;
                    for (int d = 0; d < 16; d++) {
                        out[at + d] = (byte) (q[(row0 + d + 32) * cols + k] << 4 | q[(row0 + d) * cols + k]);
                        out[at + 16 + d] = (byte) (q[(row0 + d + 48) * cols + k] << 4 | q[(row0 + d + 16) * cols + k]);
                    }
                }
            } else {
                for (int k = 0; k < cols; k++) {
                    int at = base + k * size / 2;
                    for (int n = 0; n < size; n += 2) {
                        out[at + n / 2] = (byte) (q[(row0 + n + 1) * cols + k] << 4 | q[(row0 + n) * cols + k]);
                    }
                }
            }
        });
        return out;
    }

    /** Whether PyTorch here packs as {@link #layout} does (a probe of 112 rows: a full block and one of 48). */
    static boolean matches(NDManager manager) {
        Boolean m = javaMatches;
        if (m != null) {
            return m;
        }
        synchronized (Int4Packing.class) {
            if (javaMatches == null) {
                int rows = 112;
                int cols = 64;
                byte[] q = new byte[rows * cols];
                Random r = new Random(1);
                for (int i = 0; i < q.length; i++) {
                    q[i] = (byte) r.nextInt(16);
                }
                try (NDManager probe = manager.newSubManager();
                        NDArray theirs = byPyTorch(q, rows, cols, probe);
                        NDArray ours = java(q, rows, cols, probe)) {
                    boolean same = theirs.getShape().equals(ours.getShape())
                            && theirs.getDataType() == ours.getDataType()
                            && Arrays.equals(theirs.toByteArray(), ours.toByteArray());
                    if (!same) {
                        log.debug(
                                "PyTorch's int4 CPU layout here is not the AVX-512 one ({} {}): it packs the weights",
                                theirs.getShape(),
                                theirs.getDataType());
                    }
                    javaMatches = same;
                }
            }
            return javaMatches;
        }
    }
}
