package ai.medqa.common;

/**
 * Base of every failure MedQA reports. Subclasses name one kind of problem a user can act on (a bad
 * checkpoint, config, tokenizer, adapter, generation setting, or a prompt that does not fit); each
 * message names the file, tensor or field and what was expected.
 */
public class MedQAException extends RuntimeException {
    public MedQAException(String message) {
        super(message);
    }

    public MedQAException(String message, Throwable cause) {
        super(message, cause);
    }
}
