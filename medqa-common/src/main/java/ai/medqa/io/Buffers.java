package ai.medqa.io;

import java.lang.reflect.Field;
import java.nio.ByteBuffer;

/**
 * Frees direct and memory-mapped buffers as soon as their bytes have been copied, instead of when
 * the garbage collector gets to them: a model loads tensor by tensor into native memory the Java heap
 * never sees, so the collector may not run for the whole load while converted copies and mapped
 * pages of every tensor pile up (measured: L in F32 peaked at twice its size).
 */
public final class Buffers {
    private static final sun.misc.Unsafe UNSAFE = unsafe();

    private Buffers() {}

    /**
     * Releases {@code buffer} now (unmaps a mapped one). The caller must hold the only reference:
     * any later access would read freed memory. Heap buffers, slices and views are left to the GC.
     */
    public static void release(ByteBuffer buffer) {
        if (UNSAFE == null || buffer == null || !buffer.isDirect()) {
            return;
        }
        try {
            UNSAFE.invokeCleaner(buffer);
        } catch (IllegalArgumentException e) {
            // A slice or duplicate: its memory belongs to another buffer.
        }
    }

    private static sun.misc.Unsafe unsafe() {
        try {
            Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (sun.misc.Unsafe) f.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null; // then buffers are freed by the GC, as before
        }
    }
}
