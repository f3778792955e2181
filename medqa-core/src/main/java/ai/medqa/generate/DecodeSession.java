package ai.medqa.generate;

import ai.djl.ndarray.NDScope;
import ai.medqa.model.ContextOverflowException;
import ai.medqa.model.KvCache;
import ai.medqa.model.MistralModel;
import ai.medqa.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The one decode loop: greedy, sampled, batched and streamed generation all step through it.
 *
 * <p>Prompts are left-padded to a common length and prefilled together; then each {@link #step()}
 * feeds every row's last token through the KV cache and picks the next with that row's
 * {@link Sampler}. A row stops on an end-of-sequence id, a stop string, {@code max_new_tokens} or a
 * full context; finished rows keep a slot in the batch (their output is ignored) so the cache stays
 * rectangular. Each step's native arrays live in an {@link NDScope}; only the logits leave it, as a
 * Java array.
 */
final class DecodeSession implements AutoCloseable {
    private final MistralModel model;
    private final Tokenizer tokenizer; // null: ids only
    private final StopCriteria stop;
    private final KvCache cache;
    private final Row[] rows;
    private final int budget;
    private final boolean contextLimited;
    private final int vocab;
    private final long started = System.nanoTime();
    private boolean prefilled;
    private final float[] rowBuffer; // batches: one row of logits at a time

    /** Per-row state. */
    private static final class Row {
        final int[] prompt;
        final int[] ids; // prompt then new tokens
        int length;
        final Sampler sampler;
        final Tokenizer.StreamDecoder decoder;
        final StringBuilder text = new StringBuilder();
        int emitted; // chars of text handed out by takeText
        StopReason reason;
        long firstTokenNanos;
        long doneNanos;

        Row(int[] prompt, int budget, Sampler sampler, Tokenizer.StreamDecoder decoder) {
            this.prompt = prompt;
            this.ids = Arrays.copyOf(prompt, prompt.length + budget);
            this.length = prompt.length;
            this.sampler = sampler;
            this.decoder = decoder;
        }

        int generated() {
            return length - prompt.length;
        }
    }

    DecodeSession(MistralModel model, Tokenizer tokenizer, List<int[]> prompts, GenerationConfig config) {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompts to generate from");
        }
        this.model = model;
        this.tokenizer = tokenizer;
        this.vocab = model.config().vocabSize();
        this.rowBuffer = prompts.size() > 1 ? new float[vocab] : null;
        this.stop = StopCriteria.of(config, Set.copyOf(model.config().eosTokenIds()));
        if (!config.stopStrings().isEmpty() && tokenizer == null) {
            throw new GenerationConfigException("stop strings need a tokenizer to decode text; this model has none");
        }
        int context = model.config().maxPositionEmbeddings();
        int longest = 0;
        for (int[] p : prompts) {
            if (p.length == 0) {
                throw new IllegalArgumentException("a prompt has no tokens; expected at least one (usually BOS)");
            }
            for (int id : p) {
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("prompt token id " + id + " is outside the vocabulary [0, " + vocab + ")");
                }
            }
            longest = Math.max(longest, p.length);
        }
        if (longest >= context) {
            throw new ContextOverflowException("the prompt has " + longest + " tokens; the model's context "
                    + "(max_position_embeddings) is " + context + ", which leaves no room for a new token");
        }
        this.budget = Math.min(config.maxNewTokens(), context - longest);
        this.contextLimited = budget < config.maxNewTokens();
        int[] padLeft = new int[prompts.size()];
        rows = new Row[prompts.size()];
        for (int r = 0; r < rows.length; r++) {
            int[] p = prompts.get(r);
            padLeft[r] = longest - p.length;
            rows[r] = new Row(p.clone(), budget, Sampler.create(config),
                    tokenizer == null ? null : tokenizer.newStreamDecoder());
        }
        cache = model.newCache(padLeft, longest + budget);
    }

    int rowCount() {
        return rows.length;
    }

    boolean done(int row) {
        return rows[row].reason != null;
    }

    boolean allDone() {
        for (Row r : rows) {
            if (r.reason == null) {
                return false;
            }
        }
        return true;
    }

    /** Runs one forward pass (the prefill the first time) and picks a token for every active row. */
    boolean step() {
        if (allDone()) {
            return false;
        }
        float[] logits;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            logits = model.forward(feed(), cache, false).toFloatArray();
        }
        prefilled = true;
        for (int r = 0; r < rows.length; r++) {
            Row s = rows[r];
            if (s.reason != null) {
                continue;
            }
            // The sampler works in place on one row; a single row needs no copy.
            float[] row = logits;
            if (rows.length > 1) {
                row = rowBuffer;
                System.arraycopy(logits, r * vocab, row, 0, vocab);
            }
            int next = s.sampler.sample(s.ids, s.length, row);
            s.ids[s.length++] = next;
            if (s.generated() == 1) {
                s.firstTokenNanos = System.nanoTime() - started;
            }
            accept(s, next);
        }
        return !allDone();
    }

    private int[][] feed() {
        int[][] tokens = new int[rows.length][];
        if (!prefilled) {
            int longest = cache.capacity() - budget;
            for (int r = 0; r < rows.length; r++) {
                int[] p = rows[r].prompt;
                tokens[r] = new int[longest];
                // Pad slots are masked out; any valid id will do.
                System.arraycopy(p, 0, tokens[r], longest - p.length, p.length);
            }
        } else {
            for (int r = 0; r < rows.length; r++) {
                tokens[r] = new int[] {rows[r].ids[rows[r].length - 1]};
            }
        }
        return tokens;
    }

    private void accept(Row s, int id) {
        boolean eos = stop.isEos(id);
        if (s.decoder != null) {
            int before = s.text.length();
            s.text.append(s.decoder.push(id));
            if (eos || s.generated() == budget) {
                s.text.append(s.decoder.finish());
            }
            int at = stop.findStopString(s.text, before);
            if (at >= 0) {
                s.text.setLength(at);
                finish(s, StopReason.STOP_STRING);
                return;
            }
        }
        if (eos) {
            finish(s, StopReason.EOS);
        } else if (s.generated() == budget) {
            finish(s, contextLimited ? StopReason.CONTEXT_FULL : StopReason.MAX_NEW_TOKENS);
        }
    }

    private void finish(Row s, StopReason reason) {
        s.reason = reason;
        s.doneNanos = System.nanoTime() - started;
    }

    /**
     * Text of {@code row} that is final since the last call: never half a character, and while the
     * row runs, never the start of what could still become a stop string.
     */
    String takeText(int row) {
        Row s = rows[row];
        int safe = s.reason != null ? s.text.length() : stop.safeLength(s.text);
        if (safe <= s.emitted) {
            return "";
        }
        String out = s.text.substring(s.emitted, safe);
        s.emitted = safe;
        return out;
    }

    /** The id chosen for {@code row} at the last step, or -1 if the row was already done before it. */
    int lastToken(int row) {
        Row s = rows[row];
        return s.generated() == 0 ? -1 : s.ids[s.length - 1];
    }

    Generation result(int row) {
        Row s = rows[row];
        long end = s.reason != null ? s.doneNanos : System.nanoTime() - started;
        return new Generation(s.prompt.clone(), Arrays.copyOfRange(s.ids, s.prompt.length, s.length),
                s.decoder == null ? null : s.text.toString(), s.reason, s.firstTokenNanos, end - s.firstTokenNanos);
    }

    @Override
    public void close() {
        cache.close();
    }
}
