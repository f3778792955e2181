package ai.medqa.server;

import ai.medqa.chat.Tools;
import ai.medqa.common.Json;
import ai.medqa.generate.GenerationConfig;
import com.fasterxml.jackson.databind.node.ArrayNode;
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

    /**
     * What produces completion {@code id}, kept for votes from its start: a streamed answer's text is
     * what was sent so far ({@link #streaming}), so a vote cast right after the user stopped it
     * records what they saw.
     */
    ObjectNode remember(String id, long created, ApiRequest request, GenerationConfig config) {
        ObjectNode r = Json.MAPPER
                .createObjectNode()
                .put("id", id)
                .put("created", created)
                .put("model", request.model);
        if (request.adapter == null) {
            r.putNull("adapter");
        } else {
            r.put("adapter", request.adapter);
        }
        if (request.chat) {
            ArrayNode messages = r.putArray("messages");
            // Tool calls and results as the text turns of the generic form: feedback exports read role and content.
            Tools.asText(request.messages)
                    .forEach(m -> messages.addObject()
                            .put("role", m.role().jsonName())
                            .put("content", m.content()));
        } else {
            r.put("prompt", request.prompt);
        }
        ObjectNode settings = r.putObject("settings");
        settings.put("temperature", config.isGreedy() ? 0.0 : config.temperature());
        settings.put("top_p", config.topP()).put("top_k", config.topK());
        if (config.minP().isPresent()) {
            settings.put("min_p", config.minP().getAsDouble());
        }
        settings.put("repetition_penalty", config.repetitionPenalty()).put("max_tokens", config.maxNewTokens());
        settings.put("seed", config.seed().orElseThrow());
        ArrayNode stop = settings.putArray("stop");
        config.stopStrings().forEach(stop::add);
        config.constraint().ifPresent(c -> settings.put("constraint", c.toString()));
        r.put("completion", "").put("finish_reason", "in_progress");
        put(r);
        return r;
    }

    /** The completion's end: its text, why it ended and its token counts (none when cancelled). */
    void finished(ObjectNode record, String text, String finish, int promptTokens, int completionTokens) {
        synchronized (record) {
            record.put("completion", text).put("finish_reason", finish);
            if (completionTokens >= 0) {
                OpenAiJson.usage(record, promptTokens, completionTokens);
            }
        }
        put(record); // its final size counts against the cap
        done(record.get("id").asText());
    }
}
