package ai.medqa.io;

import java.nio.ByteBuffer;
import java.util.Set;

/**
 * Tensors a {@link Checkpoint} reads from somewhere other than safetensors files (a GGUF file, by
 * the checkpoint's tensor names): float32 data, little-endian, in the checkpoint's shapes.
 */
public interface TensorSource extends AutoCloseable {
    /** Every tensor name, in the checkpoint's naming. */
    Set<String> names();

    /** The tensor's entry: dtype F32, shape outermost first. */
    TensorInfo info(String name);

    /** The tensor's values as float32 (a fresh buffer the caller may keep). */
    ByteBuffer floats(String name);

    /** The file(s) it reads, for messages. */
    String describe();

    @Override
    void close();
}
