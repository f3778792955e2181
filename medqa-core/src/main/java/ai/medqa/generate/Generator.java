package ai.medqa.generate;

import ai.medqa.model.MistralModel;
import ai.medqa.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * Generation from token ids with Hugging Face {@code generate()} semantics: one prompt, a batch, or
 * a stream of text.
 *
 * <p>Calls may run on several threads at once over one model: each has its own {@code DecodeSession}
 * (KV cache, samplers, stop rule) and only reads the weights. What changes the model (an adapter
 * switched, attached or removed, a projection replaced) must not run meanwhile: {@code MedQA} holds
 * a read lock around each call (each step of a stream) and a write lock for its adapter changes. A
 * returned stream is read by one thread at a time.
 */
public final class Generator {

    /** Receives each new token of a streamed generation as soon as it is chosen. */
    @FunctionalInterface
    public interface TokenListener {
        /**
         * @param id the token
         * @param text the text that became final with it: possibly empty (half a UTF-8 character, or
         *     what could still be the start of a stop string), possibly several tokens' worth
         */
        void onToken(int id, String text);

        /**
         * As {@link #onToken(int, String)}, with the token's log-probability when the configuration
         * asked for them ({@link GenerationConfig#logprobs()}), else null. The decode loops call this one.
         */
        default void onToken(int id, String text, TokenLogprob logprob) {
            onToken(id, text);
        }
    }

    private final MistralModel model;
    private final Tokenizer tokenizer;

    /** @param tokenizer null to work on ids only (no text, no stop strings) */
    public Generator(MistralModel model, Tokenizer tokenizer) {
        this.model = Objects.requireNonNull(model, "model");
        this.tokenizer = tokenizer;
    }

    public Generation generate(int[] prompt, GenerationConfig config) {
        return generate(prompt, config, (id, text) -> {});
    }

    /** Generates, calling {@code listener} for every new token in order. */
    public Generation generate(int[] prompt, GenerationConfig config, TokenListener listener) {
        try (DecodeSession session = new DecodeSession(model, tokenizer, List.of(prompt), config)) {
            boolean more = true;
            while (more) {
                more = session.step();
                listener.onToken(
                        session.lastToken(0), tokenizer == null ? "" : session.takeText(0), session.lastLogprob(0));
            }
            return session.result(0);
        }
    }

    /**
     * Generates for several prompts at once (left padding, attention mask, each row stopping on its
     * own). Under greedy decoding each row equals what {@link #generate} gives for it alone; with
     * sampling, each row has its own random stream seeded like a single run.
     */
    public List<Generation> generateBatch(List<int[]> prompts, GenerationConfig config) {
        try (DecodeSession session = new DecodeSession(model, tokenizer, prompts, config)) {
            while (session.step()) {
                // every row advances by one token per step
            }
            List<Generation> out = new ArrayList<>(prompts.size());
            for (int r = 0; r < session.rowCount(); r++) {
                out.add(session.result(r));
            }
            return out;
        }
    }

    /**
     * The new text as a lazy stream of pieces, generated as it is consumed. Close the stream (or
     * consume it to the end) to release the KV cache.
     */
    public Stream<String> stream(int[] prompt, GenerationConfig config) {
        if (tokenizer == null) {
            throw new IllegalStateException("streaming text needs a tokenizer; this model has none");
        }
        DecodeSession session = new DecodeSession(model, tokenizer, List.of(prompt), config);
        Iterator<String> pieces = new Iterator<>() {
            private String next;
            private boolean finished;

            @Override
            public boolean hasNext() {
                while (next == null && !finished) {
                    boolean more = session.step();
                    String text = session.takeText(0);
                    if (!text.isEmpty()) {
                        next = text;
                    }
                    if (!more) {
                        finished = true;
                        session.close();
                    }
                }
                return next != null;
            }

            @Override
            public String next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                String out = next;
                next = null;
                return out;
            }
        };
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(pieces, Spliterator.ORDERED), false)
                .onClose(session::close);
    }
}
