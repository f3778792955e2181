package ai.medqa.generate;

import java.util.List;
import java.util.Set;

/**
 * When to stop, as pure functions the decode loop calls after each token: an end-of-sequence id, the
 * {@code maxNewTokens} budget, or a stop string in the decoded text.
 *
 * <p>Stop strings are matched on text, not on tokens, because a string such as {@code "\nQuestion:"} can be
 * split across tokens in many ways. transformers stops generating but keeps the stop string in the output;
 * {@link #findStopString} returns where it starts so that the caller can cut the answer there (what a
 * user wants to read) and, when streaming, {@link #safeLength} says how much text can be shown before it is
 * known not to be the beginning of a stop string.
 */
final class StopCriteria {
    private final Set<Integer> eosTokenIds;
    private final int maxNewTokens;
    private final List<String> stopStrings;

    private StopCriteria(Set<Integer> eosTokenIds, int maxNewTokens, List<String> stopStrings) {
        this.eosTokenIds = eosTokenIds;
        this.maxNewTokens = maxNewTokens;
        this.stopStrings = stopStrings;
    }

    /**
     * @param modelEosTokenIds the checkpoint's end-of-sequence ids, used unless the config sets its own
     */
    public static StopCriteria of(GenerationConfig config, Set<Integer> modelEosTokenIds) {
        return new StopCriteria(config.eosTokenIdsOr(modelEosTokenIds), config.maxNewTokens(), config.stopStrings());
    }

    public Set<Integer> eosTokenIds() {
        return eosTokenIds;
    }

    public boolean isEos(int tokenId) {
        return eosTokenIds.contains(tokenId);
    }

    /** True once {@code generated} new tokens exhaust the budget. */
    public boolean isMaxNewTokensReached(int generated) {
        return generated >= maxNewTokens;
    }

    /**
     * The start of the earliest stop string in {@code text} that ends at or after {@code newTextStart}
     * (the length before the last token's text was appended; earlier occurrences were checked before),
     * or -1. Where several stop strings match, the one starting first wins.
     */
    public int findStopString(CharSequence text, int newTextStart) {
        int best = -1;
        for (String stop : stopStrings) {
            int from = Math.max(0, newTextStart - stop.length() + 1);
            int at = indexOf(text, stop, from);
            if (at >= 0 && (best < 0 || at < best)) {
                best = at;
            }
        }
        return best;
    }

    /**
     * How many leading characters of {@code text} can be shown now: all but the longest tail that is the
     * beginning of some stop string (and so may turn into one with the next token). Assumes
     * {@link #findStopString} found none.
     */
    public int safeLength(CharSequence text) {
        int len = text.length();
        int hold = 0;
        for (String stop : stopStrings) {
            for (int k = Math.min(stop.length() - 1, len); k > hold; k--) {
                if (regionMatches(text, len - k, stop, k)) {
                    hold = k;
                    break;
                }
            }
        }
        return len - hold;
    }

    private static int indexOf(CharSequence text, String s, int from) {
        for (int i = from; i + s.length() <= text.length(); i++) {
            if (regionMatches(text, i, s, s.length())) {
                return i;
            }
        }
        return -1;
    }

    private static boolean regionMatches(CharSequence text, int offset, String s, int len) {
        for (int j = 0; j < len; j++) {
            if (text.charAt(offset + j) != s.charAt(j)) {
                return false;
            }
        }
        return true;
    }
}
