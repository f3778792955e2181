package ai.medqa.generate;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The last compiled constraints (and tools) by the request text they came from: compiling one costs
 * milliseconds to seconds, and API clients send the same schemas and tools again and again. A bounded
 * LRU map, safe to share between threads; a compile that throws is not kept, so it fails the same way
 * each time. Used by the server and the langchain4j and Spring AI models.
 */
public final class CompiledCache {
    private final Map<String, Object> entries;

    /** Keeps the {@code capacity} most recently used entries. */
    public CompiledCache(int capacity) {
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Object> eldest) {
                return size() > capacity;
            }
        };
    }

    /** The value compiled for {@code key}, compiling it (outside the lock) when it is not kept. */
    @SuppressWarnings("unchecked")
    public <T> T get(String key, Supplier<T> compile) {
        Object value;
        synchronized (entries) {
            value = entries.get(key);
        }
        if (value == null) {
            value = compile.get();
            synchronized (entries) {
                entries.put(key, value);
            }
        }
        return (T) value;
    }
}
