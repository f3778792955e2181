package ai.medqa.metrics.lexical;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * ROUGE as Google's {@code rouge-score} computes it ({@code RougeScorer(types, use_stemmer)}):
 * rougeN (n = 1..9), rougeL (LCS over the whole text) and rougeLsum (summary-level union LCS over
 * newline-separated sentences, {@code split_summaries=False}).
 *
 * <p>The tokenizer is rouge-score's: lowercase, every run of characters outside {@code [a-z0-9]}
 * becomes a space (so non-ASCII letters vanish), split, optionally Porter-stem tokens longer than
 * three characters with nltk's stemmer. Instances are immutable and thread-safe.
 */
public final class Rouge {
    private final List<String> types;
    private final boolean useStemmer;
    private final PorterStemmer stemmer = new PorterStemmer();

    /**
     * @param types rouge types in output order, e.g. {@code rouge1, rouge2, rougeL, rougeLsum}
     * @param useStemmer rouge-score's {@code use_stemmer}
     */
    public Rouge(List<String> types, boolean useStemmer) {
        for (String t : types) {
            if (!t.equals("rougeL") && !t.equals("rougeLsum") && !t.matches("rouge[1-9]")) {
                throw new IllegalArgumentException("Invalid rouge type: " + t);
            }
        }
        this.types = List.copyOf(types);
        this.useStemmer = useStemmer;
    }

    /** rouge1, rouge2, rougeL and rougeLsum. */
    public static Rouge standard(boolean useStemmer) {
        return new Rouge(List.of("rouge1", "rouge2", "rougeL", "rougeLsum"), useStemmer);
    }

    public List<String> types() {
        return types;
    }

    /** rouge-score's {@code tokenize.tokenize(text, stemmer)}. */
    public List<String> tokenize(String text) {
        String lower = PyText.lower(text);
        List<String> tokens = new ArrayList<>();
        int n = lower.length();
        int i = 0;
        while (i < n) {
            while (i < n && !isAlnum(lower.charAt(i))) {
                i++;
            }
            int start = i;
            while (i < n && isAlnum(lower.charAt(i))) {
                i++;
            }
            if (i > start) {
                String tok = lower.substring(start, i);
                if (useStemmer && tok.length() > 3) {
                    tok = stemmer.stem(tok);
                }
                if (!tok.isEmpty()) {
                    tokens.add(tok);
                }
            }
        }
        return tokens;
    }

    private static boolean isAlnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    }

    /** {@code scorer.score(target, prediction)}: one score per type, in the constructor's order. */
    public Map<String, RougeScore> score(String target, String prediction) {
        Map<String, RougeScore> result = new LinkedHashMap<>();
        Ngrams.Vocab vocab = new Ngrams.Vocab();
        int[] targetIds = null;
        int[] predictionIds = null;
        for (String type : types) {
            if (type.equals("rougeLsum")) {
                result.put(type, summaryLevelLcs(sentences(target, vocab), sentences(prediction, vocab)));
                continue;
            }
            if (targetIds == null) {
                targetIds = vocab.encode(tokenize(target));
                predictionIds = vocab.encode(tokenize(prediction));
            }
            if (type.equals("rougeL")) {
                result.put(type, scoreLcs(targetIds, predictionIds));
            } else {
                int order = type.charAt(5) - '0';
                result.put(type, scoreNgrams(Ngrams.count(targetIds, order), Ngrams.count(predictionIds, order)));
            }
        }
        return result;
    }

    /**
     * rouge-score's {@code score_multi(targets, prediction)}: per type, the score of the target with
     * the highest F-measure (the first one on ties).
     */
    public Map<String, RougeScore> scoreMulti(List<String> targets, String prediction) {
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("at least one target is needed");
        }
        Map<String, RougeScore> best = new LinkedHashMap<>();
        for (String target : targets) {
            for (Map.Entry<String, RougeScore> e : score(target, prediction).entrySet()) {
                RougeScore old = best.get(e.getKey());
                if (old == null || e.getValue().fmeasure() > old.fmeasure()) {
                    best.put(e.getKey(), e.getValue());
                }
            }
        }
        return best;
    }

    // text.split("\n"), dropping empty strings (before tokenising, as rouge-score does).
    private List<int[]> sentences(String text, Ngrams.Vocab vocab) {
        List<int[]> out = new ArrayList<>();
        for (String s : text.split("\n", -1)) {
            if (!s.isEmpty()) {
                out.add(vocab.encode(tokenize(s)));
            }
        }
        return out;
    }

    private static RougeScore scoreNgrams(Map<Ngrams.Key, Integer> target, Map<Ngrams.Key, Integer> prediction) {
        long intersection = 0;
        for (Map.Entry<Ngrams.Key, Integer> e : target.entrySet()) {
            intersection += Math.min(e.getValue(), prediction.getOrDefault(e.getKey(), 0));
        }
        int targetCount = Ngrams.total(target);
        int predictionCount = Ngrams.total(prediction);
        double precision = (double) intersection / Math.max(predictionCount, 1);
        double recall = (double) intersection / Math.max(targetCount, 1);
        return RougeScore.of(precision, recall);
    }

    private static RougeScore scoreLcs(int[] target, int[] prediction) {
        if (target.length == 0 || prediction.length == 0) {
            return RougeScore.ZERO;
        }
        int lcs = lcsTable(target, prediction)[target.length][prediction.length];
        return RougeScore.of((double) lcs / prediction.length, (double) lcs / target.length);
    }

    private static int[][] lcsTable(int[] ref, int[] can) {
        int[][] t = new int[ref.length + 1][can.length + 1];
        for (int i = 1; i <= ref.length; i++) {
            for (int j = 1; j <= can.length; j++) {
                t[i][j] = ref[i - 1] == can[j - 1] ? t[i - 1][j - 1] + 1 : Math.max(t[i - 1][j], t[i][j - 1]);
            }
        }
        return t;
    }

    /** rouge-score's {@code _backtrack_norec}: indices into {@code ref} of one LCS. */
    private static void lcsIndices(int[] ref, int[] can, BitSet into) {
        int[][] t = lcsTable(ref, can);
        int i = ref.length;
        int j = can.length;
        while (i > 0 && j > 0) {
            if (ref[i - 1] == can[j - 1]) {
                into.set(i - 1);
                i--;
                j--;
            } else if (t[i][j - 1] > t[i - 1][j]) {
                j--;
            } else {
                i--;
            }
        }
    }

    private static RougeScore summaryLevelLcs(List<int[]> refSents, List<int[]> canSents) {
        if (refSents.isEmpty() || canSents.isEmpty()) {
            return RougeScore.ZERO;
        }
        int m = 0;
        int n = 0;
        Map<Integer, Integer> countsRef = new HashMap<>();
        Map<Integer, Integer> countsCan = new HashMap<>();
        for (int[] s : refSents) {
            m += s.length;
            for (int t : s) {
                countsRef.merge(t, 1, Integer::sum);
            }
        }
        for (int[] s : canSents) {
            n += s.length;
            for (int t : s) {
                countsCan.merge(t, 1, Integer::sum);
            }
        }
        if (m == 0 || n == 0) {
            return RougeScore.ZERO;
        }
        int hits = 0;
        for (int[] r : refSents) {
            BitSet union = new BitSet(r.length);
            for (int[] c : canSents) {
                lcsIndices(r, c, union);
            }
            // Tokens of the union LCS in reference order; each counts once per available occurrence.
            for (int i = union.nextSetBit(0); i >= 0; i = union.nextSetBit(i + 1)) {
                int tok = r[i];
                int cc = countsCan.getOrDefault(tok, 0);
                int cr = countsRef.getOrDefault(tok, 0);
                if (cc > 0 && cr > 0) {
                    hits++;
                    countsCan.put(tok, cc - 1);
                    countsRef.put(tok, cr - 1);
                }
            }
        }
        return RougeScore.of((double) hits / n, (double) hits / m);
    }
}
