package ai.medqa.generate;

import ai.djl.ndarray.NDScope;
import ai.medqa.model.ContextOverflowException;
import ai.medqa.model.KvCache;
import ai.medqa.model.MistralModel;
import java.util.Arrays;
import java.util.Set;
import java.util.function.IntPredicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prefill once, then one token per step through the KV cache. Each step's arrays live in an
 * {@link NDScope} and only the logits leave it, as a Java array, so native memory stays flat however
 * many tokens are generated.
 */
public final class DecodeLoop {
    private static final Logger log = LoggerFactory.getLogger(DecodeLoop.class);

    /** Chooses the next id from the last position's logits and the ids so far (prompt and new). */
    @FunctionalInterface
    public interface TokenChooser {
        int next(float[] logits, int[] ids, int length);
    }

    private DecodeLoop() {}

    /** Greedy choice: the highest logit, the lowest id on ties (as llama2.c and numpy's argmax). */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Runs the loop.
     *
     * @param eosIds ids that end generation (kept in the output)
     * @param onToken called with each new id as soon as it is chosen; returning false stops the run
     *     (the streaming and stop-string hook)
     */
    public static Generation run(MistralModel model, int[] prompt, int maxNewTokens, Set<Integer> eosIds,
            TokenChooser chooser, IntPredicate onToken) {
        int context = model.config().maxPositionEmbeddings();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt has no tokens; expected at least one (usually BOS)");
        }
        if (prompt.length >= context) {
            throw new ContextOverflowException("the prompt has " + prompt.length
                    + " tokens; the model's context (max_position_embeddings) is " + context
                    + ", which leaves no room for a new token");
        }
        int budget = Math.min(maxNewTokens, context - prompt.length);
        if (budget < maxNewTokens) {
            log.warn("prompt of {} tokens + max_new_tokens {} exceeds the context of {}; generating at most {}",
                    prompt.length, maxNewTokens, context, budget);
        }
        int[] ids = Arrays.copyOf(prompt, prompt.length + budget);
        int length = prompt.length;
        Generation.StopReason reason = budget < maxNewTokens ? Generation.StopReason.CONTEXT_FULL
                : Generation.StopReason.MAX_NEW_TOKENS;
        long t0 = System.nanoTime();
        long prefill = 0;
        try (KvCache cache = model.newCache(prompt.length + budget)) {
            int[] feed = prompt;
            while (length < prompt.length + budget) {
                float[] logits;
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    logits = model.forward(new int[][] {feed}, cache, false).toFloatArray();
                }
                int next = chooser.next(logits, ids, length);
                ids[length++] = next;
                if (prefill == 0) {
                    prefill = System.nanoTime() - t0;
                }
                boolean go = onToken.test(next);
                if (eosIds.contains(next)) {
                    reason = Generation.StopReason.EOS;
                    break;
                }
                if (!go) {
                    reason = Generation.StopReason.STOP_STRING;
                    break;
                }
                feed = new int[] {next};
            }
        }
        long total = System.nanoTime() - t0;
        int[] tokens = Arrays.copyOfRange(ids, prompt.length, length);
        return new Generation(prompt.clone(), tokens, null, reason, prefill, total - prefill);
    }
}
