package ai.medqa.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Hugging Face tokenizer folder ({@code tokenizer.json}, optionally {@code tokenizer_config.json})
 * run through DJL's binding of the Rust {@code tokenizers} library, with the ids transformers gives
 * for the same folder. See the package documentation for the exact behaviour and where it differs
 * from sentencepiece.
 *
 * <p>Encoding and decoding are thread-safe; a {@link StreamDecoder} belongs to one sequence and one
 * thread. Close the tokenizer to free its native memory.
 */
public final class Tokenizer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Tokenizer.class);

    /** DJL defaults to truncating at 512 tokens and padding; MedQA wants neither, and adds BOS/EOS itself. */
    private static final Map<String, String> DJL_OPTIONS =
            Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");

    private final TokenizerJson definition;
    private final TokenizerConfig config;
    /** Splits special-token strings out of the text as control ids, like transformers. */
    private final HuggingFaceTokenizer parsingSpecials;
    /** The same model without special added tokens: every character of the text is text. */
    private final HuggingFaceTokenizer literal;

    private final int bosId;
    private final int eosId;
    private final int unkId;
    private volatile boolean closed;

    private Tokenizer(TokenizerJson definition, TokenizerConfig config) {
        this.definition = definition;
        this.config = config;
        this.bosId = requireToken(definition, "bos_token", config.bosToken());
        this.eosId = requireToken(definition, "eos_token", config.eosToken());
        Integer unk = definition.idsByPiece.get(config.unkToken());
        this.unkId = unk == null ? -1 : unk;
        this.parsingSpecials = create(definition, definition.json());
        try {
            this.literal = create(definition, definition.jsonWithoutSpecialTokens());
        } catch (RuntimeException e) {
            parsingSpecials.close();
            throw e;
        }
    }

    /**
     * Loads {@code modelDir/tokenizer.json} and, where present, {@code tokenizer_config.json} and
     * {@code chat_template.jinja}.
     *
     * @throws TokenizerException naming the file when one is missing, unreadable or inconsistent
     */
    public static Tokenizer load(Path modelDir) {
        Objects.requireNonNull(modelDir, "modelDir");
        TokenizerJson definition = TokenizerJson.read(modelDir.resolve("tokenizer.json"));
        TokenizerConfig config = TokenizerConfig.read(
                modelDir.resolve("tokenizer_config.json"), modelDir.resolve("chat_template.jinja"));
        if (config.legacy() && isLlamaFamily(config.tokenizerClass())) {
            // transformers' LlamaTokenizer(Fast) with legacy=true replaces tokenizer.json's Metaspace
            // prepend_scheme "first" by "always": text after a special token (e.g. "<s>[INST]") then
            // also starts with "▁". Doing the same is what makes our ids equal what Python users get.
            if (definition.setMetaspacePrependScheme("always")) {
                LOG.debug("{}: Metaspace prepend_scheme set to \"always\" (legacy Llama tokenizer)", definition.file);
            }
        }
        return new Tokenizer(definition, config);
    }

    private static boolean isLlamaFamily(String tokenizerClass) {
        // No tokenizer_config.json: transformers picks LlamaTokenizer for mistral/llama checkpoints.
        return tokenizerClass == null || tokenizerClass.startsWith("Llama") || tokenizerClass.startsWith("CodeLlama");
    }

    private static int requireToken(TokenizerJson definition, String field, String token) {
        Integer id = definition.idsByPiece.get(token);
        if (id == null) {
            throw new TokenizerException(definition.file + ": " + field + " \"" + token
                    + "\" (from tokenizer_config.json or the Llama default) is not in the vocabulary");
        }
        return id;
    }

    private static HuggingFaceTokenizer create(TokenizerJson definition, String json) {
        try {
            return HuggingFaceTokenizer.newInstance(
                    new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), DJL_OPTIONS);
        } catch (IOException | RuntimeException e) {
            throw new TokenizerException(
                    definition.file + ": the tokenizers library rejected it: " + e.getMessage(), e);
        }
    }

    /**
     * The ids transformers gives for {@code tok(text, add_special_tokens=True)["input_ids"]}: BOS
     * (and EOS) as {@code tokenizer_config.json} asks, and special-token strings such as {@code </s>}
     * inside the text turned into their control ids. Never truncated.
     */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /** As {@link #encode(String)}; {@code addSpecialTokens=false} leaves out BOS and EOS. */
    public int[] encode(String text, boolean addSpecialTokens) {
        Objects.requireNonNull(text, "text");
        long[] ids = ensureOpen(parsingSpecials).encode(text, false, false).getIds();
        return withSpecials(ids, addSpecialTokens && config.addBosToken(), addSpecialTokens && config.addEosToken());
    }

    /**
     * Text a user typed: {@code <s>}, {@code </s>}, {@code <unk>} and {@code [INST]} in it are split
     * into ordinary pieces, never control ids, so a message cannot end a turn or forge one. Only BOS
     * (when asked) is added, never EOS. Equal to {@link #encode(String)} wherever the text holds no
     * special-token string.
     */
    public int[] encodeLiteral(String text, boolean addBos) {
        Objects.requireNonNull(text, "text");
        long[] ids = ensureOpen(literal).encode(text, false, false).getIds();
        return withSpecials(ids, addBos, false);
    }

    private int[] withSpecials(long[] ids, boolean bos, boolean eos) {
        int offset = bos ? 1 : 0;
        int[] out = new int[ids.length + offset + (eos ? 1 : 0)];
        if (bos) {
            out[0] = bosId;
        }
        for (int i = 0; i < ids.length; i++) {
            out[offset + i] = Math.toIntExact(ids[i]);
        }
        if (eos) {
            out[out.length - 1] = eosId;
        }
        return out;
    }

    /** The text of {@code ids} without special tokens (BOS, EOS, UNK): what a reader should see. */
    public String decode(int[] ids) {
        return decode(ids, true);
    }

    /**
     * transformers' {@code tok.decode(ids, skip_special_tokens=...)}: byte-fallback tokens joined
     * into characters (an incomplete or invalid byte run becomes U+FFFD per byte), {@code ▁} read as
     * a space, and the one space that the encoder prepended dropped from the start of the text.
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        Objects.requireNonNull(ids, "ids");
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            wide[i] = checkId(ids[i]);
        }
        return decodeLongs(wide, wide.length, skipSpecialTokens);
    }

    private String decodeLongs(long[] ids, int length, boolean skipSpecialTokens) {
        long[] exact = length == ids.length ? ids : Arrays.copyOf(ids, length);
        return ensureOpen(parsingSpecials).decode(exact, skipSpecialTokens);
    }

    private int checkId(int id) {
        if (id < 0 || id >= definition.pieces.length || definition.pieces[id] == null) {
            throw new IllegalArgumentException("token id " + id + " is not in the vocabulary of " + definition.file
                    + " (size " + vocabSize() + ")");
        }
        return id;
    }

    /** Starts an incremental decoder for one generated sequence; see {@link StreamDecoder}. */
    public StreamDecoder newStreamDecoder(boolean skipSpecialTokens) {
        return new StreamDecoder(this, skipSpecialTokens);
    }

    /** {@link #newStreamDecoder(boolean)} skipping special tokens, matching {@link #decode(int[])}. */
    public StreamDecoder newStreamDecoder() {
        return newStreamDecoder(true);
    }

    /** Number of ids: one more than the largest id of the vocabulary and added tokens. */
    public int vocabSize() {
        return definition.pieces.length;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    /** The id of the unknown token, or -1 if the tokenizer has none. */
    public int unkId() {
        return unkId;
    }

    public String bosToken() {
        return config.bosToken();
    }

    public String eosToken() {
        return config.eosToken();
    }

    /** Whether {@code id} is a special added token (skipped when decoding with skipSpecialTokens). */
    public boolean isSpecial(int id) {
        return definition.special.get(checkId(id));
    }

    /** The vocabulary piece of {@code id}, e.g. {@code "▁grab"} or {@code "<0x0A>"}. */
    public String idToPiece(int id) {
        return definition.pieces[checkId(id)];
    }

    /** The id of a vocabulary piece (e.g. {@code "</s>"} or {@code "▁the"}), or -1 if there is none. */
    public int idOf(String piece) {
        Integer id = definition.idsByPiece.get(piece);
        return id == null ? -1 : id;
    }

    /** The Jinja chat template of {@code tokenizer_config.json} (or {@code chat_template.jinja}), if any. */
    public Optional<String> chatTemplate() {
        return Optional.ofNullable(config.chatTemplate());
    }

    boolean isByteToken(int id) {
        return definition.byteTokens.get(id);
    }

    private HuggingFaceTokenizer ensureOpen(HuggingFaceTokenizer tokenizer) {
        if (closed) {
            throw new IllegalStateException("tokenizer " + definition.file + " is closed");
        }
        return tokenizer;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            parsingSpecials.close();
            literal.close();
        }
    }

    /**
     * Turns generated ids into text as they arrive. The concatenation of every {@link #push} and
     * the final {@link #finish} equals {@code decode(allIds, skipSpecialTokens)} exactly.
     *
     * <p>How: the decoder keeps a small window, the ids of the last chunk it emitted text for
     * (the context) followed by ids not yet emitted. Each step decodes the window with and without
     * the pending ids and emits the difference. Decoding with the context in front keeps the spaces
     * between words: the decoder drops a leading space only at the start of what it decodes, and that
     * start is the same in both decodes. It also emits nothing while the newest visible id is a
     * byte-fallback token, because the bytes of one character arrive as several tokens (and the
     * library turns a whole byte run into U+FFFDs if any of it is invalid, so part of a run cannot be
     * emitted early). Work per token is two decodes of a window of a few ids.
     */
    public static final class StreamDecoder {
        private final Tokenizer tokenizer;
        private final boolean skipSpecialTokens;
        private long[] window = new long[16];
        /** window[0, contextLength) was already emitted; window[contextLength, size) was not. */
        private int contextLength;

        private int size;
        private boolean finished;

        private StreamDecoder(Tokenizer tokenizer, boolean skipSpecialTokens) {
            this.tokenizer = tokenizer;
            this.skipSpecialTokens = skipSpecialTokens;
        }

        /** Adds one generated id; returns the text it completes (often empty, never half a character). */
        public String push(int id) {
            if (finished) {
                throw new IllegalStateException("push after finish: a StreamDecoder decodes one sequence");
            }
            tokenizer.checkId(id);
            if (size == window.length) {
                window = Arrays.copyOf(window, size * 2);
            }
            window[size++] = id;
            boolean invisible = skipSpecialTokens && tokenizer.isSpecial(id);
            if (invisible || tokenizer.isByteToken(id)) {
                return "";
            }
            return emit(false);
        }

        /** Ends the sequence and returns what is left, e.g. an unfinished byte run as U+FFFD. */
        public String finish() {
            if (finished) {
                return "";
            }
            String rest = emit(true);
            finished = true;
            return rest;
        }

        /** Ids held (context plus pending); stays small, which is what keeps a step O(1). */
        int windowSize() {
            return size;
        }

        private String emit(boolean last) {
            if (size == contextLength) {
                return "";
            }
            String context = contextLength == 0 ? "" : tokenizer.decodeLongs(window, contextLength, skipSpecialTokens);
            String all = tokenizer.decodeLongs(window, size, skipSpecialTokens);
            // A text ending in U+FFFD may be a character still being spelled out (decoders other
            // than byte fallback, e.g. byte-level BPE); wait unless this is the end.
            if (all.length() <= context.length() || (!last && all.charAt(all.length() - 1) == '\uFFFD')) {
                return "";
            }
            if (!all.startsWith(context)) {
                LOG.warn(
                        "stream decoding: the decode of {} ids does not extend the decode of its first {};"
                                + " streamed text may differ from decode()",
                        size,
                        contextLength);
            }
            String fresh = all.substring(context.length());
            // The ids just emitted become the context of the next step.
            System.arraycopy(window, contextLength, window, 0, size - contextLength);
            size -= contextLength;
            contextLength = size;
            return fresh;
        }
    }
}
