package ai.medqa.generate;

import java.util.List;

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
 * @param logprobs one per new token when {@link GenerationConfig.Builder#logprobs} asked for them, else empty
 */
public record Generation(
        int[] promptIds,
        int[] tokens,
        String text,
        StopReason stopReason,
        long prefillNanos,
        long decodeNanos,
        List<TokenLogprob> logprobs) {

    public Generation {
        logprobs = logprobs == null ? List.of() : List.copyOf(logprobs);
    }

    /** A generation without log-probabilities. */
    public Generation(
            int[] promptIds, int[] tokens, String text, StopReason stopReason, long prefillNanos, long decodeNanos) {
        this(promptIds, tokens, text, stopReason, prefillNanos, decodeNanos, List.of());
    }

    /** Decode speed in tokens per second, counting the steps after the first token. */
    public double decodeTokensPerSecond() {
        return tokens.length <= 1 || decodeNanos == 0 ? 0 : (tokens.length - 1) * 1e9 / decodeNanos;
    }
}
