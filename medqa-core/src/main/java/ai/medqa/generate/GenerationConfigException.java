package ai.medqa.generate;

import ai.medqa.MedQAException;

/** A generation setting is out of range; the message names the field, the allowed range and the value. */
public final class GenerationConfigException extends MedQAException {
    public GenerationConfigException(String message) {
        super(message);
    }
}
