package ai.medqa.generate;

import ai.medqa.common.MedQAException;

/** A generation setting is out of range; the message names the field, the allowed range and the value. */
public final class GenerationConfigException extends MedQAException {
    private final String field;
    private final String allowed;
    private final String value;

    public GenerationConfigException(String message) {
        super(message);
        this.field = null;
        this.allowed = null;
        this.value = null;
    }

    /** {@code field} (the builder's name, e.g. {@code maxNewTokens}) must be {@code allowed} but is {@code value}. */
    public GenerationConfigException(String field, String allowed, Object value) {
        super("GenerationConfig." + field + " must be " + allowed + ", but is " + value);
        this.field = field;
        this.allowed = allowed;
        this.value = String.valueOf(value);
    }

    /** The setting's builder name ({@code maxNewTokens}), or null when the message is all there is. */
    public String field() {
        return field;
    }

    /** What the setting must be ({@code an integer >= 1}), or null. */
    public String allowed() {
        return allowed;
    }

    /** The value given, as text, or null. */
    public String value() {
        return value;
    }
}
