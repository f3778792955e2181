package ai.medqa.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What produced each recent completion, by its id (OpenAI's {@code id}): the messages or prompt
 * given to the template, the model or adapter, every decoding setting including the seed used, the
 * text returned and why it ended. A vote names a completion and is recorded with this, so feedback
 * always describes the generation it judges, never the page's settings at click time. The oldest
 * records go first when {@link #CAPACITY} are held.
 */
final class CompletionRecords {
    /** Completions remembered for votes: about a day of a busy single-GPU server's answers. */
    static final int CAPACITY = 10_000;

    private final Map<String, ObjectNode> records = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, ObjectNode> eldest) {
            return size() > CAPACITY;
        }
    };

    synchronized void put(ObjectNode record) {
        records.put(record.get("id").asText(), record);
    }

    /** The record of completion {@code id}, or null when it is unknown or has been forgotten. */
    ObjectNode get(String id) {
        ObjectNode r;
        synchronized (this) {
            r = records.get(id);
        }
        if (r == null) {
            return null;
        }
        synchronized (r) { // a streamed completion's record is still being written
            return r.deepCopy();
        }
    }
}
