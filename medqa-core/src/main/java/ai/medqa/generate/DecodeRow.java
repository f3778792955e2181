package ai.medqa.generate;

import ai.djl.ndarray.NDScope;
import ai.medqa.model.AdapterRows;
import ai.medqa.model.KvCache;
import ai.medqa.model.MistralModel;
import ai.medqa.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One sequence being generated: its ids, sampler, streaming text and stop rule. The decode loops
 * ({@link DecodeSession} for a fixed batch, {@link BatchEngine} for rows that join and leave) own the
 * forward pass; a row only turns logits into its next token and decides when it is done.
 */
final class DecodeRow {
    private static final Logger LOG = LoggerFactory.getLogger(DecodeRow.class);
    final int[] prompt;
    private final int[] ids; // prompt then new tokens
    private int length;
    private final int budget;
    private final boolean contextLimited;
    private final Sampler sampler;
    private final StopCriteria stop;
    private final Tokenizer.StreamDecoder decoder; // null: ids only
    private final Constraint.Cursor constraint; // null: free text
    private final int logprobs; // -1: none kept
    private final List<TokenLogprob> logprobList = new ArrayList<>();
    private final StringBuilder text = new StringBuilder();
    private int emitted; // chars of text handed out by takeText
    private StopReason reason;
    private final long started;
    private long firstTokenNanos;
    private long doneNanos;

    /**
     * @param budget new tokens this row may generate (its {@code max_new_tokens}, or less when the
     *     context ends first: then {@code contextLimited})
     */
    DecodeRow(
            int[] prompt,
            int budget,
            boolean contextLimited,
            Sampler sampler,
            StopCriteria stop,
            Tokenizer tokenizer,
            long started) {
        this.prompt = prompt.clone();
        this.ids = Arrays.copyOf(prompt, prompt.length + budget);
        this.length = prompt.length;
        this.budget = budget;
        this.contextLimited = contextLimited;
        this.sampler = sampler;
        this.stop = stop;
        this.decoder = tokenizer == null ? null : tokenizer.newStreamDecoder();
        this.started = started;
        Constraint c = sampler.config().constraint().orElse(null);
        if (c != null && tokenizer == null) {
            throw new IllegalArgumentException(
                    "a constraint (" + c + ") needs the model's tokenizer: this model has none");
        }
        this.constraint = c == null ? null : c.start(tokenizer);
        this.logprobs = sampler.config().logprobs().orElse(-1);
        if (constraint != null && constraint.tokensToFinish() > budget) {
            LOG.warn(
                    "the constraint ({}) needs at least {} new tokens but this answer may have only {} ({}): it will be "
                            + "cut before it is complete",
                    c,
                    constraint.tokensToFinish(),
                    budget,
                    contextLimited ? "the context ends first" : "max_new_tokens");
        }
    }

    int generated() {
        return length - prompt.length;
    }

    int remaining() {
        return budget - generated();
    }

    boolean done() {
        return reason != null;
    }

    /** The id to feed at the next step: the last one chosen. */
    int lastId() {
        return ids[length - 1];
    }

    /** Picks the next token from this row's {@code logits} (changed in place) and applies the stop rule. */
    int advance(float[] logits) {
        float[] raw = logprobs >= 0 ? logits.clone() : null; // the sampler and the constraint change logits
        if (constraint != null) {
            constraint.mask(logits, stop::isEos, remaining());
        }
        int next = sampler.sample(ids, length, logits);
        if (constraint != null) {
            constraint.advance(next);
        }
        ids[length++] = next;
        if (raw != null) {
            logprobList.add(TokenLogprob.of(raw, next, logprobs));
        }
        if (generated() == 1) {
            firstTokenNanos = System.nanoTime() - started;
        }
        accept(next);
        return next;
    }

    private void accept(int id) {
        boolean eos = stop.isEos(id);
        if (decoder != null) {
            int before = text.length();
            String piece = decoder.push(id);
            if (constraint != null && before == 0) {
                piece = stripLeadingBlanks(piece); // the constraint allows them; the answer does not include them
            }
            text.append(piece);
            if (eos || generated() == budget) {
                text.append(decoder.finish());
            }
            int at = stop.findStopString(text, before);
            if (at >= 0) {
                text.setLength(at);
                finish(StopReason.STOP_STRING);
                return;
            }
        }
        if (eos) {
            finish(StopReason.EOS);
        } else if (constraint != null && constraint.complete()) {
            if (decoder != null) {
                text.append(decoder.finish());
            }
            finish(StopReason.CONSTRAINT_COMPLETE);
        } else if (generated() == budget && constraint != null && constraint.accepting()) {
            finish(StopReason.CONSTRAINT_COMPLETE);
        } else if (generated() == budget) {
            finish(contextLimited ? StopReason.CONTEXT_FULL : StopReason.MAX_NEW_TOKENS);
        }
    }

    /**
     * The one decode step both loops run ({@code DecodeSession}, {@code BatchEngine}): one forward
     * pass of {@code feed} (a token per row, or the prompts) through {@code cache}, then row {@code i}'s
     * logits (the last position) to {@code each.accept(i, logits)}. A single row's logits are passed as
     * they come; several rows' are copied one at a time into {@code rowBuffer} (the sampler works in place).
     */
    static void forwardRows(
            MistralModel model, int[][] feed, KvCache cache, AdapterRows adapters, float[] rowBuffer, RowLogits each) {
        float[] logits;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            logits = model.forward(feed, cache, false, adapters).toFloatArray();
        }
        if (feed.length == 1) {
            each.accept(0, logits);
            return;
        }
        int vocab = logits.length / feed.length;
        for (int i = 0; i < feed.length; i++) {
            System.arraycopy(logits, i * vocab, rowBuffer, 0, vocab);
            each.accept(i, rowBuffer);
        }
    }

    /** Takes one row's logits (only valid during the call). */
    @FunctionalInterface
    interface RowLogits {
        void accept(int row, float[] logits);
    }

    private static String stripLeadingBlanks(String s) {
        int i = 0;
        while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\n')) {
            i++;
        }
        return s.substring(i);
    }

    private void finish(StopReason why) {
        reason = why;
        doneNanos = System.nanoTime() - started;
    }

    /**
     * Text that is final since the last call: never half a character, and while the row runs, never
     * the start of what could still become a stop string.
     */
    String takeText() {
        int safe = reason != null ? text.length() : stop.safeLength(text);
        if (safe <= emitted) {
            return "";
        }
        String out = text.substring(emitted, safe);
        emitted = safe;
        return out;
    }

    /** The log-probability of the last token chosen, or null if none are kept (or before the first). */
    TokenLogprob lastLogprob() {
        return logprobList.isEmpty() ? null : logprobList.get(logprobList.size() - 1);
    }

    /** The id chosen at the last step, or -1 before the first. */
    int lastToken() {
        return generated() == 0 ? -1 : ids[length - 1];
    }

    Generation result() {
        long end = reason != null ? doneNanos : System.nanoTime() - started;
        return new Generation(
                prompt.clone(),
                Arrays.copyOfRange(ids, prompt.length, length),
                decoder == null ? null : text.toString(),
                reason,
                firstTokenNanos,
                end - firstTokenNanos,
                logprobList);
    }
}
