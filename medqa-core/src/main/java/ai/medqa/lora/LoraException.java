package ai.medqa.lora;

import ai.medqa.common.MedQAException;

/**
 * A LoRA adapter cannot be used as it stands: its {@code adapter_config.json} asks for an option
 * MedQA does not implement, or its weights do not fit the model (a tensor of the wrong shape, a
 * target the model does not have, a missing tensor). The message names the file and the field or
 * tensor key, and what was expected.
 */
public class LoraException extends MedQAException {
    public LoraException(String message) {
        super(message);
    }

    public LoraException(String message, Throwable cause) {
        super(message, cause);
    }
}
