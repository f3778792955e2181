package ai.medqa.chat;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One message of a chat: who said it and what. The content is always text the way a person typed
 * it; {@link ChatTemplate} never lets it become control tokens.
 *
 * <p>Tool calling adds two kinds ({@link Tools}): an assistant turn that called tools
 * ({@link #toolCalls(List)}: {@code toolCalls} non-empty) and a tool's result ({@link #toolResult}:
 * role {@code tool}, answering the call {@code toolCallId}). A template that renders tools itself
 * gets them as such; for any other, {@link Tools} writes them as text turns first.
 *
 * @param toolCalls the calls an assistant turn made (empty for every other message)
 * @param toolCallId the call a {@code tool} message answers (null for every other message)
 */
public record Message(Role role, String content, List<Tools.Call> toolCalls, String toolCallId) {

    /** The roles of Hugging Face chat templates; JSON names {@code "system"}, {@code "user"}, {@code "assistant"}, {@code "tool"}. */
    public enum Role {
        SYSTEM,
        USER,
        ASSISTANT,
        TOOL;

        /** The name chat templates and saved conversations use: {@code "user"}. */
        @JsonValue
        public String jsonName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The role named {@code name} ({@code "user"}, ...), or IllegalArgumentException listing the names. */
        @JsonCreator
        public static Role fromJsonName(String name) {
            for (Role role : values()) {
                if (role.jsonName().equals(name)) {
                    return role;
                }
            }
            throw new IllegalArgumentException(
                    "unknown role \"" + name + "\": expected system, user, assistant or tool");
        }
    }

    public Message {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
        if (!toolCalls.isEmpty() && role != Role.ASSISTANT) {
            throw new IllegalArgumentException(
                    "only an assistant message makes tool calls, not a " + role.jsonName() + " message");
        }
        for (Tools.Call call : toolCalls) {
            checkId(call.id(), "a tool call's id");
        }
        if (toolCallId != null) {
            checkId(toolCallId, "tool_call_id");
        }
        if ((role == Role.TOOL) != (toolCallId != null)) {
            throw new IllegalArgumentException(
                    role == Role.TOOL
                            ? "a tool message needs the id of the call it answers"
                            : "only a tool message answers a tool call");
        }
    }

    /** Letters, digits, {@code _} and {@code -}: templates write call ids as they are, so they must be plain. */
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private static void checkId(String id, String what) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new IllegalArgumentException(
                    what + " must be 1-64 letters, digits, _ or -, got " + (id == null ? "none" : "\"" + id + "\""));
        }
    }

    /** A message without tool calls. */
    public Message(Role role, String content) {
        this(role, content, List.of(), null);
    }

    public static Message system(String content) {
        return new Message(Role.SYSTEM, content);
    }

    public static Message user(String content) {
        return new Message(Role.USER, content);
    }

    public static Message assistant(String content) {
        return new Message(Role.ASSISTANT, content);
    }

    /** An assistant turn that called {@code calls} (at least one). */
    public static Message toolCalls(List<Tools.Call> calls) {
        if (calls.isEmpty()) {
            throw new IllegalArgumentException("a tool-call turn needs at least one call");
        }
        return new Message(Role.ASSISTANT, "", calls, null);
    }

    /** A tool's result {@code content} for the call {@code callId}. */
    public static Message toolResult(String callId, String content) {
        return new Message(Role.TOOL, content, List.of(), Objects.requireNonNull(callId, "callId"));
    }

    /** Whether this is an assistant turn that called tools. */
    public boolean callsTools() {
        return !toolCalls.isEmpty();
    }
}
