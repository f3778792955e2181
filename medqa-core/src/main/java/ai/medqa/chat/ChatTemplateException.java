package ai.medqa.chat;

import ai.medqa.common.MedQAException;

/**
 * Messages a chat template cannot render (roles that do not alternate, a role the format does not
 * know), or a template that is itself broken. When the template raised the error with
 * {@code raise_exception(...)}, the message is the template's own.
 */
public class ChatTemplateException extends MedQAException {
    public ChatTemplateException(String message) {
        super(message);
    }

    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
