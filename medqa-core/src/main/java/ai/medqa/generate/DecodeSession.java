package ai.medqa.generate;

import ai.djl.ndarray.NDScope;
import ai.medqa.model.AdapterRows;
import ai.medqa.model.ContextOverflowException;
import ai.medqa.model.KvCache;
import ai.medqa.model.MistralModel;
import ai.medqa.tokenizer.Tokenizer;
import java.util.List;
import java.util.Set;

/**
 * {@link Generator}'s decode loop: its greedy, sampled, batched (a fixed set of prompts) and
 * streamed generation all step through it. {@link BatchEngine} has its own step loop (requests
 * join and leave between steps) and shares {@link DecodeRow} and this class's prompt and stop checks.
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
    private final KvCache cache;
    private final DecodeRow[] rows;
    private final int budget;
    private final int vocab;
    private boolean prefilled;
    private final float[] rowBuffer; // batches: one row of logits at a time

    DecodeSession(MistralModel model, Tokenizer tokenizer, List<int[]> prompts, GenerationConfig config) {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompts to generate from");
        }
        this.model = model;
        this.vocab = model.config().vocabSize();
        this.rowBuffer = prompts.size() > 1 ? new float[vocab] : null;
        StopCriteria stop = stopCriteria(model, tokenizer, config);
        int context = model.config().maxPositionEmbeddings();
        int longest = 0;
        for (int[] p : prompts) {
            checkPrompt(p, vocab, context);
            longest = Math.max(longest, p.length);
        }
        this.budget = Math.min(config.maxNewTokens(), context - longest);
        boolean contextLimited = budget < config.maxNewTokens();
        int[] padLeft = new int[prompts.size()];
        rows = new DecodeRow[prompts.size()];
        long started = System.nanoTime();
        for (int r = 0; r < rows.length; r++) {
            int[] p = prompts.get(r);
            padLeft[r] = longest - p.length;
            rows[r] = new DecodeRow(p, budget, contextLimited, Sampler.create(config), stop, tokenizer, started);
        }
        cache = model.newCache(padLeft, longest + budget);
    }

    static StopCriteria stopCriteria(MistralModel model, Tokenizer tokenizer, GenerationConfig config) {
        if (!config.stopStrings().isEmpty() && tokenizer == null) {
            throw new GenerationConfigException("stop strings need a tokenizer to decode text; this model has none");
        }
        return StopCriteria.of(config, Set.copyOf(model.config().eosTokenIds()));
    }

    static void checkPrompt(int[] p, int vocab, int context) {
        if (p.length == 0) {
            throw new IllegalArgumentException("a prompt has no tokens; expected at least one (usually BOS)");
        }
        for (int id : p) {
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException(
                        "prompt token id " + id + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        if (p.length >= context) {
            throw new ContextOverflowException("the prompt has " + p.length + " tokens; the model's context "
                    + "(max_position_embeddings) is " + context + ", which leaves no room for a new token");
        }
    }

    int rowCount() {
        return rows.length;
    }

    boolean allDone() {
        for (DecodeRow r : rows) {
            if (!r.done()) {
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
        DecodeRow.forwardRows(model, feed(), cache, AdapterRows.ACTIVE, rowBuffer, (r, logits) -> {
            if (!rows[r].done()) {
                rows[r].advance(logits);
            }
        });
        prefilled = true;
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
                tokens[r] = new int[] {rows[r].lastId()};
            }
        }
        return tokens;
    }

    /** See {@link DecodeRow#takeText}. */
    String takeText(int row) {
        return rows[row].takeText();
    }

    /** The id chosen for {@code row} at the last step, or -1 if the row was already done before it. */
    TokenLogprob lastLogprob(int row) {
        return rows[row].lastLogprob();
    }

    int lastToken(int row) {
        return rows[row].lastToken();
    }

    Generation result(int row) {
        return rows[row].result();
    }

    @Override
    public void close() {
        cache.close();
    }
}
