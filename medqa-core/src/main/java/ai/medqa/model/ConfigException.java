package ai.medqa.model;

import ai.medqa.common.MedQAException;

/** A {@code config.json} that is missing, unreadable, or holds a field we cannot run. */
public class ConfigException extends MedQAException {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
