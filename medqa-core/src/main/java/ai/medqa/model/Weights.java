package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.medqa.io.Buffers;
import ai.medqa.io.Checkpoint;
import ai.medqa.io.CheckpointException;
import ai.medqa.io.DType;
import ai.medqa.io.TensorInfo;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Tensors of a checkpoint turned into DJL arrays of the compute dtype. BF16 and F16 storage is
 * converted in Java before DJL sees it (DJL 0.36 crashes the JVM on BF16).
 */
public final class Weights {
    private final Checkpoint checkpoint;
    private final NDManager manager;
    private final DataType dtype;

    public Weights(Checkpoint checkpoint, NDManager manager, DataType dtype) {
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16) {
            throw new IllegalArgumentException("compute dtype must be FLOAT32 or FLOAT16, got " + dtype);
        }
        this.checkpoint = checkpoint;
        this.manager = manager;
        this.dtype = dtype;
    }

    public Checkpoint checkpoint() {
        return checkpoint;
    }

    public NDManager manager() {
        return manager;
    }

    public DataType dtype() {
        return dtype;
    }

    /** Loads {@code name}, checking that its shape is {@code expected}. */
    public NDArray load(String name, long... expected) {
        TensorInfo info = checkpoint.info(name);
        if (!Arrays.equals(info.shape(), expected)) {
            throw new CheckpointException(checkpoint.directory() + ": tensor " + name + " has shape "
                    + Arrays.toString(info.shape()) + "; config.json implies " + Arrays.toString(expected));
        }
        ByteBuffer data = checkpoint.read(name, dtype == DataType.FLOAT16 ? DType.F16 : DType.F32);
        // create() may wrap the buffer without copying; duplicate() gives the array memory of its own,
        // so nothing points into the memory-mapped file once loading is done.
        try (NDArray wrapped = manager.create(data, new Shape(expected), dtype)) {
            return wrapped.duplicate();
        } finally {
            // Copied: free the converted copy (or unmap the file's pages) now, not at the next GC.
            Buffers.release(data);
        }
    }

    public boolean contains(String name) {
        return checkpoint.contains(name);
    }
}
