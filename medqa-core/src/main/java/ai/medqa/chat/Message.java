package ai.medqa.chat;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;
import java.util.Objects;

/**
 * One message of a chat: who said it and what. The content is always text the way a person typed
 * it; {@link ChatTemplate} never lets it become control tokens.
 */
public record Message(Role role, String content) {

    /** The roles of Hugging Face chat templates; JSON names {@code "system"}, {@code "user"}, {@code "assistant"}. */
    public enum Role {
        SYSTEM, USER, ASSISTANT;

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
            throw new IllegalArgumentException("unknown role \"" + name + "\": expected system, user or assistant");
        }
    }

    public Message {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
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
}
