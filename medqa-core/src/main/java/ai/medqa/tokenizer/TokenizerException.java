package ai.medqa.tokenizer;

import ai.medqa.common.MedQAException;

/**
 * A tokenizer folder that cannot be used: a missing or unreadable {@code tokenizer.json} or
 * {@code tokenizer_config.json}, invalid JSON, or a field that is missing or inconsistent. The
 * message names the file (and field) and what was expected.
 */
public class TokenizerException extends MedQAException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
