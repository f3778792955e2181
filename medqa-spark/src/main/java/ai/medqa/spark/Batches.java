package ai.medqa.spark;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.Function;

/**
 * A partition's rows in batches, each batch computed only when the writer asks for its first row:
 * memory stays at one batch, and the model is leased per batch (never across a consumer's pause).
 */
final class Batches {
    private Batches() {}

    /**
     * Consecutive rows of the same {@code key}, at most {@code size} at a time, through {@code compute}
     * (one output per input row).
     */
    static <T, R> Iterator<R> lazily(
            Iterator<T> input, int size, Function<T, Object> key, Function<List<T>, List<R>> compute) {
        return new Iterator<>() {
            private Iterator<R> current = Collections.emptyIterator();
            private T pending;

            @Override
            public boolean hasNext() {
                while (!current.hasNext()) {
                    if (pending == null && !input.hasNext()) {
                        return false;
                    }
                    List<T> batch = new ArrayList<>(size);
                    if (pending != null) {
                        batch.add(pending);
                        pending = null;
                    }
                    while (batch.size() < size && input.hasNext()) {
                        T next = input.next();
                        if (!batch.isEmpty() && !Objects.equals(key.apply(batch.get(0)), key.apply(next))) {
                            pending = next;
                            break;
                        }
                        batch.add(next);
                    }
                    current = compute.apply(batch).iterator();
                }
                return true;
            }

            @Override
            public R next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return current.next();
            }
        };
    }
}
