package ai.medqa.metrics.bertscore;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * BERTScore (Zhang et al., ICLR 2020) as the {@code bert-score} package computes it:
 *
 * <ol>
 *   <li>each text becomes {@code [CLS] word pieces [SEP]} and the hidden states of one encoder layer
 *       ({@link #defaultLayer bert-score's tuned layer} unless set), each vector L2-normalised;
 *   <li>every candidate token is matched to its most similar reference token (cosine) and vice versa;
 *       special tokens stay in the pool of matches, as in bert-score, but carry weight 0;
 *   <li>precision = weighted mean over candidate tokens of their best match, recall = the same over
 *       reference tokens, F1 = 2PR/(P+R); weights are 1, or with {@code idf} the references' inverse
 *       document frequency {@code log((M+1)/(df+1))} over the M references of the call (an id no
 *       reference holds: {@code log(M+1)}), and always 0 for {@code [CLS]} and {@code [SEP]};
 *   <li>an empty candidate or reference (only special tokens) scores P = R = F = 0;
 *   <li>with a baseline file, each of P, R, F is rescaled {@code (x - b) / (1 - b)} by the file's row
 *       for the layer.
 * </ol>
 *
 * <p>One deliberate difference: bert-score takes each maximum over a zero-padded similarity matrix
 * of its batch, so a token whose similarities are all negative scores 0 there (and its result can
 * depend on which texts share its batch); here the maximum runs over real tokens only, so scores do
 * not depend on batching. Contextual embeddings are almost never negatively similar, so the two agree
 * in practice.
 *
 * <p>Texts over the encoder's 512 positions are truncated with a warning (see {@link BertEncoder}).
 * Not thread-safe, like its encoder.
 */
public final class BertScore {
    private static final Logger log = LoggerFactory.getLogger(BertScore.class);
    private static final long PROGRESS_EVERY_NANOS = 10_000_000_000L;

    /**
     * bert-score's tuned layers ({@code model2layers} in its utils.py) for the BERT and RoBERTa
     * models this encoder can load. all-MiniLM-L6-v2 is not in bert-score's table; layer 5 is what
     * bert-score tuned for every 6-layer encoder it lists (distilbert-base-uncased,
     * distilroberta-base, google/bert_uncased_L-6_H-*).
     */
    private static final Map<String, Integer> DEFAULT_LAYERS = Map.ofEntries(
            Map.entry("bert-base-uncased", 9),
            Map.entry("bert-large-uncased", 18),
            Map.entry("bert-base-cased-finetuned-mrpc", 9),
            Map.entry("bert-base-multilingual-cased", 9),
            Map.entry("bert-base-chinese", 8),
            Map.entry("roberta-base", 10),
            Map.entry("roberta-large", 17),
            Map.entry("roberta-large-mnli", 19),
            Map.entry("roberta-base-openai-detector", 7),
            Map.entry("roberta-large-openai-detector", 15),
            Map.entry("distilroberta-base", 5),
            Map.entry("allenai/scibert_scivocab_uncased", 8),
            Map.entry("allenai/scibert_scivocab_cased", 9),
            Map.entry("nfliu/scibert_basevocab_uncased", 9),
            Map.entry("xlm-roberta-base", 9),
            Map.entry("xlm-roberta-large", 17),
            Map.entry("princeton-nlp/sup-simcse-bert-base-uncased", 10),
            Map.entry("princeton-nlp/sup-simcse-roberta-base", 10),
            Map.entry("princeton-nlp/sup-simcse-roberta-large", 16),
            Map.entry("sentence-transformers/all-MiniLM-L6-v2", 5));

    /** One pair's scores. */
    public record Score(double precision, double recall, double f1) {}

    private final BertEncoder encoder;
    private final int layer;
    private final boolean idf;
    private final double[] baseline; // P, R, F for the layer, or null
    private final int batchSize;

    private BertScore(Builder b) {
        this.encoder = b.encoder;
        this.layer = b.layer;
        this.idf = b.idf;
        this.baseline = b.baseline;
        this.batchSize = b.batchSize;
    }

    /** Starts a scorer on {@code encoder} (which the scorer borrows and never closes). */
    public static Builder builder(BertEncoder encoder) {
        return new Builder(encoder);
    }

    /**
     * bert-score's layer for a model name (hub id; a local path ending in one also matches), or
     * empty when bert-score lists none.
     */
    public static OptionalInt defaultLayer(String modelName) {
        for (Map.Entry<String, Integer> e : DEFAULT_LAYERS.entrySet()) {
            if (modelName.equals(e.getKey()) || modelName.endsWith("/" + e.getKey())) {
                return OptionalInt.of(e.getValue());
            }
        }
        return OptionalInt.empty();
    }

    public int layer() {
        return layer;
    }

    public Score score(String candidate, String reference) {
        return score(List.of(candidate), List.of(reference)).get(0);
    }

    /**
     * Scores {@code candidates.get(i)} against {@code references.get(i)} for every i. With idf, the
     * weights come from all of {@code references} (duplicates count, as in bert-score). Encodes in
     * batches of the builder's size and logs progress on long runs.
     */
    public List<Score> score(List<String> candidates, List<String> references) {
        if (candidates.size() != references.size()) {
            throw new IllegalArgumentException(
                    candidates.size() + " candidates but " + references.size() + " references");
        }
        int n = candidates.size();
        Map<Integer, Double> idfWeights = idf ? idf(tokenizeAll(references)) : Map.of();
        double unseen = Math.log(n + 1.0);
        List<Score> out = new ArrayList<>(n);
        // Blocks of pairs bound the embeddings held at once; a block's texts are encoded together.
        int block = Math.max(128, 4 * batchSize);
        long started = System.nanoTime();
        long lastLog = started;
        for (int from = 0; from < n; from += block) {
            int to = Math.min(n, from + block);
            Set<String> unique = new LinkedHashSet<>(candidates.subList(from, to));
            unique.addAll(references.subList(from, to));
            List<String> texts = new ArrayList<>(unique);
            List<TokenEmbeddings> encoded = encoder.encode(texts, layer, batchSize);
            Map<String, TokenEmbeddings> byText = new HashMap<>();
            for (int i = 0; i < texts.size(); i++) {
                byText.put(texts.get(i), encoded.get(i));
            }
            for (int i = from; i < to; i++) {
                TokenEmbeddings c = byText.get(candidates.get(i));
                TokenEmbeddings r = byText.get(references.get(i));
                Score s = greedy(
                        c.vectors(),
                        weights(c.ids(), idfWeights, unseen),
                        r.vectors(),
                        weights(r.ids(), idfWeights, unseen));
                out.add(baseline == null ? s : rescale(s, baseline));
            }
            long now = System.nanoTime();
            if (now - lastLog > PROGRESS_EVERY_NANOS && to < n) {
                lastLog = now;
                double seconds = (now - started) / 1e9;
                log.info(
                        "BERTScore ({} layer {}): {}/{} pairs, {} pairs/s",
                        encoder.name(),
                        layer,
                        to,
                        n,
                        String.format("%.1f", to / seconds));
            }
        }
        if (System.nanoTime() - started > PROGRESS_EVERY_NANOS) {
            log.info(
                    "BERTScore ({} layer {}): {} pairs in {} s",
                    encoder.name(),
                    layer,
                    n,
                    String.format("%.1f", (System.nanoTime() - started) / 1e9));
        }
        return out;
    }

    private List<int[]> tokenizeAll(List<String> texts) {
        List<int[]> ids = new ArrayList<>(texts.size());
        for (String t : texts) {
            ids.add(encoder.truncate(encoder.tokenize(t))); // the ids encode() will feed (and warn about)
        }
        return ids;
    }

    /**
     * bert-score's {@code get_idf_dict}: {@code log((M+1)/(df+1))} per id over the M documents, df
     * counting each document once; {@code [CLS]}/{@code [SEP]} set to 0 (they are in every document,
     * so their formula value is already 0).
     */
    Map<Integer, Double> idf(List<int[]> references) {
        return idf(references, encoder.clsId(), encoder.sepId());
    }

    static Map<Integer, Double> idf(List<int[]> references, int clsId, int sepId) {
        Map<Integer, Integer> df = new HashMap<>();
        for (int[] doc : references) {
            Set<Integer> seen = new LinkedHashSet<>();
            for (int id : doc) {
                if (seen.add(id)) {
                    df.merge(id, 1, Integer::sum);
                }
            }
        }
        double m = references.size();
        Map<Integer, Double> idf = new LinkedHashMap<>();
        df.forEach((id, count) -> idf.put(id, Math.log((m + 1) / (count + 1))));
        idf.put(clsId, 0.0);
        idf.put(sepId, 0.0);
        return idf;
    }

    private double[] weights(int[] ids, Map<Integer, Double> idfWeights, double unseen) {
        double[] w = new double[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == encoder.clsId() || ids[i] == encoder.sepId()) {
                w[i] = 0;
            } else {
                w[i] = idf ? idfWeights.getOrDefault(ids[i], unseen) : 1.0;
            }
        }
        return w;
    }

    /**
     * Greedy cosine matching of one pair. Rows of {@code candidate} / {@code reference} are token
     * vectors (any length; normalised here); weights are per token. A side with at most two tokens
     * (only the special tokens) gives 0, 0, 0, as bert-score; F1 is 0 where 2PR/(P+R) is undefined.
     */
    static Score greedy(
            float[][] candidate, double[] candidateWeights, float[][] reference, double[] referenceWeights) {
        if (candidate.length <= 2 || reference.length <= 2) {
            return new Score(0, 0, 0);
        }
        float[][] c = normalised(candidate);
        float[][] r = normalised(reference);
        double[] bestForCandidate = new double[c.length];
        double[] bestForReference = new double[r.length];
        Arrays.fill(bestForCandidate, Double.NEGATIVE_INFINITY);
        Arrays.fill(bestForReference, Double.NEGATIVE_INFINITY);
        for (int i = 0; i < c.length; i++) {
            float[] ci = c[i];
            for (int j = 0; j < r.length; j++) {
                float[] rj = r[j];
                float dot = 0;
                for (int k = 0; k < ci.length; k++) {
                    dot += ci[k] * rj[k];
                }
                if (dot > bestForCandidate[i]) {
                    bestForCandidate[i] = dot;
                }
                if (dot > bestForReference[j]) {
                    bestForReference[j] = dot;
                }
            }
        }
        double p = weightedMean(bestForCandidate, candidateWeights);
        double rec = weightedMean(bestForReference, referenceWeights);
        double f = 2 * p * rec / (p + rec);
        return new Score(p, rec, Double.isNaN(f) ? 0 : f);
    }

    private static double weightedMean(double[] values, double[] weights) {
        double sum = 0;
        double total = 0;
        for (int i = 0; i < values.length; i++) {
            sum += values[i] * weights[i];
            total += weights[i];
        }
        return sum / total;
    }

    private static float[][] normalised(float[][] vectors) {
        float[][] out = new float[vectors.length][];
        for (int i = 0; i < vectors.length; i++) {
            double norm = 0;
            for (float v : vectors[i]) {
                norm += (double) v * v;
            }
            float inv = (float) (1.0 / Math.sqrt(norm));
            out[i] = new float[vectors[i].length];
            for (int k = 0; k < out[i].length; k++) {
                out[i][k] = vectors[i][k] * inv;
            }
        }
        return out;
    }

    static Score rescale(Score s, double[] b) {
        return new Score(
                (s.precision() - b[0]) / (1 - b[0]), (s.recall() - b[1]) / (1 - b[1]), (s.f1() - b[2]) / (1 - b[2]));
    }

    /**
     * Reads bert-score's baseline format ({@code rescale_baseline/<lang>/<model>.tsv}, comma-separated
     * despite the name): a header {@code LAYER,P,R,F}, then one row per layer.
     */
    static double[] readBaseline(Path file, int layer) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        if (lines.isEmpty() || !lines.get(0).replace(" ", "").equalsIgnoreCase("LAYER,P,R,F")) {
            throw new IOException(file + ": a baseline file starts with the header LAYER,P,R,F");
        }
        for (int i = 1; i < lines.size(); i++) {
            String[] f = lines.get(i).trim().split("\\s*,\\s*");
            if (f.length == 4 && f[0].equals(Integer.toString(layer))) {
                try {
                    return new double[] {Double.parseDouble(f[1]), Double.parseDouble(f[2]), Double.parseDouble(f[3])};
                } catch (NumberFormatException e) {
                    throw new IOException(file + " line " + (i + 1) + ": not numbers: " + lines.get(i), e);
                }
            }
        }
        throw new IOException(file + ": no row for layer " + layer);
    }

    /** Settings of a {@link BertScore}; every one has bert-score's default. */
    public static final class Builder {
        private final BertEncoder encoder;
        private Integer layerChoice;
        private boolean idf;
        private Path baselineFile;
        private double[] baseline;
        private int batchSize = 64;
        private int layer;

        private Builder(BertEncoder encoder) {
            this.encoder = Objects.requireNonNull(encoder, "encoder");
        }

        /** The hidden layer to match ({@code 0..numLayers}); default {@link #defaultLayer}, else the last. */
        public Builder layer(int layer) {
            this.layerChoice = layer;
            return this;
        }

        /** Weight tokens by inverse document frequency over the references (default off). */
        public Builder idf(boolean idf) {
            this.idf = idf;
            return this;
        }

        /** Rescale with a bert-score baseline file ({@code LAYER,P,R,F} rows); default none. */
        public Builder baseline(Path file) {
            this.baselineFile = file;
            return this;
        }

        /** Texts per encoder forward pass (default 64, bert-score's). */
        public Builder batchSize(int batchSize) {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
            }
            this.batchSize = batchSize;
            return this;
        }

        public BertScore build() throws IOException {
            if (layerChoice != null) {
                layer = layerChoice;
            } else {
                OptionalInt known = defaultLayer(encoder.name());
                if (known.isPresent()) {
                    layer = known.getAsInt();
                } else {
                    layer = encoder.numLayers();
                    log.warn(
                            "bert-score has no tuned layer for {}; using its last layer, {}. Set one with layer(n).",
                            encoder.name(),
                            layer);
                }
            }
            if (layer < 0 || layer > encoder.numLayers()) {
                throw new IllegalArgumentException(
                        "layer " + layer + " is outside 0.." + encoder.numLayers() + " for " + encoder.name());
            }
            baseline = baselineFile == null ? null : readBaseline(baselineFile, layer);
            return new BertScore(this);
        }
    }
}
