package ai.medqa.generate;

/**
 * The outcome of one generation.
 *
 * @param promptIds the ids fed to the model (without padding)
 * @param tokens the new ids; an end-of-sequence id that stopped the run is included, as in
 *     transformers' output
 * @param text the new ids decoded (special tokens skipped) and cut before a stop string, or null
 *     when the model has no tokenizer
 * @param stopReason why generation ended
 * @param prefillNanos time until the first new token was chosen
 * @param decodeNanos time of the steps after that
 */
public record Generation(
        int[] promptIds, int[] tokens, String text, StopReason stopReason, long prefillNanos, long decodeNanos) {

    /** Decode speed in tokens per second, counting the steps after the first token. */
    public double decodeTokensPerSecond() {
        return tokens.length <= 1 || decodeNanos == 0 ? 0 : (tokens.length - 1) * 1e9 / decodeNanos;
    }
}
