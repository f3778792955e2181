package ai.medqa.chat;

import ai.medqa.common.MedQAException;

/**
 * A saved conversation that cannot be read or written: I/O failure, invalid JSON, or a field that
 * is missing or wrong. The message names the file and the field.
 */
public class ConversationException extends MedQAException {
    public ConversationException(String message) {
        super(message);
    }

    public ConversationException(String message, Throwable cause) {
        super(message, cause);
    }
}
