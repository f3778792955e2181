package ai.medqa.generate;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sampler {@link Sampler#create} gives: the same tokens as {@link ReferenceSampler} without sorting
 * the vocabulary (see {@link Sampler} for how). Not thread-safe: scratch arrays and random state.
 */
final class FastSampler implements Sampler {
    private static final Logger LOG = LoggerFactory.getLogger(FastSampler.class);
    private static final int FIRST_CANDIDATES = 64;
    private static final int CANDIDATE_GROWTH = 8;

    private final GenerationConfig config;
    private final long seed;
    private final SplittableRandom random;

    private final boolean greedy;
    private final float penalty;
    private final float temperature;
    private final int topK;
    private final float topPThreshold;
    private final boolean topP;
    private final float minP;
    private final boolean useMinP;

    // scratch, sized to the vocabulary on first use
    private int[] stamps = new int[0];
    private int stamp;
    private float[] exps = new float[0];
    private int[] cand = new int[0];
    private long[] keys = new long[0];
    private float[] heap = new float[0];
    private int fallbacks;
    private int lastSorted;

    FastSampler(GenerationConfig config) {
        this.config = config;
        this.seed = Sampler.seedOf(config, LOG);
        this.random = new SplittableRandom(seed);
        this.greedy = config.isGreedy();
        this.penalty = (float) config.repetitionPenalty();
        this.temperature = (float) config.temperature();
        this.topK = config.topK();
        this.topP = config.topP() < 1.0;
        this.topPThreshold = TopPWarper.threshold(config.topP());
        this.useMinP = config.minP().isPresent();
        this.minP = (float) config.minP().orElse(0);
    }

    @Override
    public GenerationConfig config() {
        return config;
    }

    @Override
    public long seed() {
        return seed;
    }

    /**
     * The next token id.
     *
     * @param prevIds the prompt and the tokens generated so far (for the repetition penalty); the first
     *                {@code prevLen} count
     * @param logits  one logit per vocabulary id; used as scratch and left modified
     */
    @Override
    public int sample(int[] prevIds, int prevLen, float[] logits) {
        if (logits.length == 0) {
            throw new IllegalArgumentException("empty logits");
        }
        return sampleFast(prevIds, prevLen, logits);
    }

    /** How many candidates the last top-p cut sorted (tests: masked tokens must not be among them). */
    int lastSorted() {
        return lastSorted;
    }

    /** How often the fast path had to fall back to the full sort (ties across the top-p boundary). */
    int fallbacks() {
        return fallbacks;
    }

    // ------------------------------------------------------------------ fast path

    private int sampleFast(int[] prevIds, int prevLen, float[] x) {
        int n = x.length;
        ensureScratch(n);
        if (penalty != 1f) {
            penalize(prevIds, prevLen, x);
        }
        if (greedy) {
            return Sampler.argmax(x);
        }
        return draw(x, filterFast(x));
    }

    /** Temperature, top-k, top-p, min-p; leaves the surviving ids, ascending, in {@code cand[0..m)}. */
    private int filterFast(float[] x) {
        int n = x.length;
        if (temperature != 1f) {
            TemperatureWarper.divide(x, temperature);
        }
        int m;
        if (topK != 0 && topK < n) {
            float kth = kthLargest(x, n, topK);
            m = 0;
            for (int i = 0; i < n; i++) {
                // -inf (a constrained-out token) is never a candidate: with fewer than top_k allowed
                // tokens kth is -inf, and keeping them would sort the whole vocabulary for top-p.
                if (!(x[i] < kth) && x[i] != Float.NEGATIVE_INFINITY) {
                    cand[m++] = i;
                }
            }
        } else {
            m = -1; // all of the vocabulary
        }
        if (topP) {
            m = m < 0 ? topPWholeVocabulary(x, n) : topPCandidates(x, n, m, 0.0, Float.NaN);
        }
        if (m < 0) {
            for (int i = 0; i < n; i++) {
                cand[i] = i;
            }
            m = n;
        }
        if (useMinP) {
            m = minP(x, m);
        }
        return m;
    }

    /**
     * For tests: the ids a sampling step may draw from (ascending), computed by this sampler's path;
     * consumes no randomness. Not meaningful for greedy configs.
     */
    @Override
    public int[] keptIds(int[] prevIds, int prevLen, float[] x) {
        ensureScratch(x.length);
        if (penalty != 1f) {
            penalize(prevIds, prevLen, x);
        }
        return Arrays.copyOf(cand, filterFast(x));
    }

    private void ensureScratch(int n) {
        if (exps.length != n) {
            stamps = new int[n];
            stamp = 0;
            exps = new float[n];
            cand = new int[n];
            keys = new long[n];
        }
    }

    /** Each distinct previous id once; a stamp per id avoids clearing a mark array every token. */
    private void penalize(int[] prevIds, int prevLen, float[] x) {
        if (++stamp == 0) {
            Arrays.fill(stamps, 0);
            stamp = 1;
        }
        for (int i = 0; i < prevLen; i++) {
            int id = RepetitionPenaltyProcessor.checkId(prevIds[i], x.length);
            if (stamps[id] != stamp) {
                stamps[id] = stamp;
                RepetitionPenaltyProcessor.apply(x, id, penalty);
            }
        }
    }

    /** The k-th largest value counting repeats (torch.topk(x, k).values[-1]), with a min-heap of k floats. */
    private float kthLargest(float[] x, int n, int k) {
        if (heap.length < k) {
            heap = new float[k];
        }
        float[] h = heap;
        for (int i = 0; i < k; i++) { // heapify the first k
            siftUp(h, i, x[i]);
        }
        for (int i = k; i < n; i++) {
            if (x[i] > h[0]) {
                siftDown(h, k, x[i]);
            }
        }
        return h[0];
    }

    private static void siftUp(float[] h, int pos, float v) {
        while (pos > 0) {
            int parent = (pos - 1) >>> 1;
            if (!(v < h[parent])) {
                break;
            }
            h[pos] = h[parent];
            pos = parent;
        }
        h[pos] = v;
    }

    private static void siftDown(float[] h, int size, float v) {
        int pos = 0;
        while (true) {
            int child = 2 * pos + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && h[child + 1] < h[child]) {
                child++;
            }
            if (!(h[child] < v)) {
                break;
            }
            h[pos] = h[child];
            pos = child;
        }
        h[pos] = v;
    }

    /**
     * Top-p over the whole vocabulary: softmax of everything (the normaliser needs it), then only the
     * best logits are sorted; the mass below them must already be under the threshold, otherwise the
     * candidate set grows.
     */
    private int topPWholeVocabulary(float[] x, int n) {
        float max = Softmax.max(x, n);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = Softmax.exp(x[i], max);
            exps[i] = e;
            sum += e;
        }
        float inv = 1f / (float) sum;
        // margin: the reference sums this tail in ascending order, we in index order
        double tailLimit = topPThreshold * (1 - 1e-9);
        for (int k = FIRST_CANDIDATES; k < n / 2; k *= CANDIDATE_GROWTH) {
            float kth = kthLargest(x, n, k);
            double tail = 0;
            int m = 0;
            for (int i = 0; i < n; i++) {
                if (x[i] < kth || x[i] == Float.NEGATIVE_INFINITY) { // -inf: probability 0, as above
                    tail += exps[i] * inv;
                } else {
                    cand[m++] = i;
                }
            }
            if (tail <= tailLimit) {
                return topPCandidates(x, n, m, tail, inv);
            }
        }
        return topPFullSort(x, n, -1, inv);
    }

    /**
     * Top-p decided on {@code cand[0..m)} (ids ascending); {@code tail} is the probability mass of the
     * tokens outside it. {@code inv} is 1 / (softmax normaliser) when {@code exps} already holds
     * exp(x - max) for the whole vocabulary; NaN when everything outside the candidates is -inf, and the
     * softmax is then taken over the candidates alone.
     */
    private int topPCandidates(float[] x, int n, int m, double tail, float inv) {
        boolean wholeVocabulary = !Float.isNaN(inv);
        if (!wholeVocabulary) {
            // Summed in index order, as the reference's softmax over the full row.
            inv = 1f / (float) candidateExps(x, m);
        }
        for (int t = 0; t < m; t++) {
            int id = cand[t];
            keys[t] = ((long) sortable(x[id]) << 32) | id;
        }
        Arrays.sort(keys, 0, m); // ascending logits; ties by id, which cannot matter (see below)
        lastSorted = m;
        double cum = tail;
        int keepFrom = m - LogitsProcessorChain.MIN_TOKENS_TO_KEEP;
        for (int t = 0; t < m - LogitsProcessorChain.MIN_TOKENS_TO_KEEP; t++) {
            cum += exps[(int) keys[t]] * inv;
            if ((float) cum > topPThreshold) {
                keepFrom = t;
                break;
            }
        }
        keepFrom = Math.max(keepFrom, 0);
        // A cumulative sum is the same whatever the order among equal logits, except inside a group of
        // equal logits cut by the boundary: which of them survive is torch's sort order. Defer to it.
        if (keepFrom > 0 && x[(int) keys[keepFrom - 1]] == x[(int) keys[keepFrom]]) {
            return topPFullSort(x, n, wholeVocabulary ? -1 : m, inv);
        }
        int kept = 0;
        for (int t = keepFrom; t < m; t++) {
            cand[kept++] = (int) keys[t];
        }
        Arrays.sort(cand, 0, kept);
        return kept;
    }

    /**
     * The reference top-p on the full row. {@code m >= 0}: only {@code cand[0..m)} are alive, so the row
     * is first made what the reference sees (everything else -inf). {@code exps} holds exp(x - max) of
     * the live tokens and {@code inv} the normaliser, so the probabilities are the reference's softmax
     * without computing it again.
     */
    private int topPFullSort(float[] x, int n, int m, float inv) {
        fallbacks++;
        LOG.trace("top-p: ties across the boundary or a flat distribution; full sort");
        if (m >= 0) {
            int t = 0;
            for (int i = 0; i < n; i++) {
                if (t < m && cand[t] == i) {
                    t++;
                } else {
                    x[i] = Float.NEGATIVE_INFINITY;
                    exps[i] = 0f;
                }
            }
        }
        for (int i = 0; i < n; i++) {
            exps[i] *= inv;
        }
        TopPWarper.filter(x, exps, topPThreshold, LogitsProcessorChain.MIN_TOKENS_TO_KEEP);
        int kept = 0;
        for (int i = 0; i < n; i++) {
            if (x[i] != Float.NEGATIVE_INFINITY) {
                cand[kept++] = i;
            }
        }
        return kept;
    }

    /**
     * Fills {@code exps} with the softmax numerators of the first {@code m} candidates (shifted by
     * their maximum) and returns their sum, accumulated in candidate order.
     */
    private double candidateExps(float[] x, int m) {
        float max = Float.NEGATIVE_INFINITY;
        for (int t = 0; t < m; t++) {
            max = Math.max(max, x[cand[t]]);
        }
        double sum = 0;
        for (int t = 0; t < m; t++) {
            float e = Softmax.exp(x[cand[t]], max);
            exps[cand[t]] = e;
            sum += e;
        }
        return sum;
    }

    /** Min-p on the candidates (ids ascending), the softmax summed in index order as the reference. */
    private int minP(float[] x, int m) {
        double sum = candidateExps(x, m);
        float inv = 1f / (float) sum;
        float top = 0;
        for (int t = 0; t < m; t++) {
            top = Math.max(top, exps[cand[t]] * inv);
        }
        float threshold = minP * top;
        int kept = 0;
        for (int t = 0; t < m; t++) {
            int id = cand[t];
            if (!(exps[id] * inv < threshold)) {
                cand[kept++] = id;
            }
        }
        return kept;
    }

    /** One draw from the softmax over the candidates, walking them in id order as the reference does. */
    private int draw(float[] x, int m) {
        double sum = candidateExps(x, m);
        double target = random.nextDouble() * sum;
        double cum = 0;
        int last = -1;
        for (int t = 0; t < m; t++) {
            int id = cand[t];
            float e = exps[id];
            if (e > 0) {
                cum += e;
                last = id;
                if (cum > target) {
                    return id;
                }
            }
        }
        return last;
    }

    /** An int whose signed order is the float's order (-0.0 just below 0.0; only == is used on ties). */
    private static int sortable(float f) {
        int bits = Float.floatToIntBits(f);
        return bits ^ ((bits >> 31) & 0x7fffffff);
    }
}
