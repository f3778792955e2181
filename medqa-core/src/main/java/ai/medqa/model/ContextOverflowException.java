package ai.medqa.model;

import ai.medqa.common.MedQAException;

/** A prompt (or prompt plus requested new tokens) that does not fit the model's context. */
public class ContextOverflowException extends MedQAException {
    public ContextOverflowException(String message) {
        super(message);
    }
}
