package ai.medqa.generate;

/**
 * The outcome of one generation.
 *
 * @param promptIds the ids fed to the model
 * @param tokens the new ids, without the prompt (an end-of-sequence id that stopped the run is included)
 * @param text the new ids decoded, or null when the model has no tokenizer
 * @param stopReason why generation ended
 * @param prefillNanos time to process the prompt
 * @param decodeNanos time of the decode steps after the first token
 */
public record Generation(
        int[] promptIds, int[] tokens, String text, StopReason stopReason, long prefillNanos, long decodeNanos) {

    public enum StopReason {
        /** An end-of-sequence id was generated. */
        EOS,
        /** A stop string appeared in the text. */
        STOP_STRING,
        /** {@code max_new_tokens} were generated. */
        MAX_NEW_TOKENS,
        /** The model's context (max_position_embeddings) is full. */
        CONTEXT_FULL
    }

    /** Decode speed in tokens per second, counting the steps after the first token. */
    public double decodeTokensPerSecond() {
        return tokens.length <= 1 || decodeNanos == 0 ? 0 : (tokens.length - 1) * 1e9 / decodeNanos;
    }
}
