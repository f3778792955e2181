package ai.medqa.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

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
    /** And at most this much text (prompts can fill a long context): the oldest go first. */
    static final long MAX_CHARS = 64L << 20;

    private final Map<String, ObjectNode> records = new LinkedHashMap<>();
    /** The text of completions still streaming, read when voted on (so a vote records what was seen). */
    private final Map<String, StringBuilder> streaming = new ConcurrentHashMap<>();

    private final Map<String, Long> sizes = new HashMap<>();
    private long chars;

    synchronized void put(ObjectNode record) {
        String id = record.get("id").asText();
        long size = record.toString().length();
        records.put(id, record);
        Long before = sizes.put(id, size);
        chars += size - (before == null ? 0 : before);
        var eldest = records.entrySet().iterator();
        while ((records.size() > CAPACITY || chars > MAX_CHARS) && records.size() > 1) {
            String old = eldest.next().getKey();
            eldest.remove();
            chars -= sizes.remove(old);
        }
    }

    /** Completion {@code id} is streaming its text into {@code text} (appends synchronized on it). */
    void streaming(String id, StringBuilder text) {
        streaming.put(id, text);
    }

    /** Completion {@code id} has its final text in its record. */
    void done(String id) {
        streaming.remove(id);
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
        ObjectNode copy;
        synchronized (r) { // a finishing completion's record is being written
            copy = r.deepCopy();
        }
        StringBuilder live = streaming.get(id);
        if (live != null) {
            synchronized (live) {
                copy.put("completion", live.toString());
            }
        }
        return copy;
    }
}
