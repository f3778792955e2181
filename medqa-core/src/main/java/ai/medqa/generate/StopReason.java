package ai.medqa.generate;

/** Why a generation ended. */
public enum StopReason {
    /** The model produced one of the end-of-sequence ids. */
    EOS,
    /** {@code maxNewTokens} tokens were generated. */
    MAX_NEW_TOKENS,
    /** The decoded text came to contain one of the stop strings. */
    STOP_STRING,
    /** The answer is complete under its {@link Constraint}: nothing but its end could follow. */
    CONSTRAINT_COMPLETE,
    /** The model's context ({@code max_position_embeddings}) is full. */
    CONTEXT_FULL
}
