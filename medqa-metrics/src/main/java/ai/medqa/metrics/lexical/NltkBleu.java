package ai.medqa.metrics.lexical;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * BLEU exactly as nltk 3.8's {@code nltk.translate.bleu_score} computes it: {@code sentence_bleu}
 * and {@code corpus_bleu} with weights, brevity penalty on the closest reference length (ties to
 * the shorter) and nltk's smoothing methods 0 to 7.
 *
 * <p>nltk's quirks are kept on purpose, because the point is to match numbers people publish:
 * no unigram match gives 0; method0 replaces a zero precision by {@code sys.float_info.min} (tiny
 * but not 0); zero precisions are skipped in the weighted log sum; in {@code corpus_bleu},
 * methods 5 to 7 look at the <em>last</em> hypothesis and its references only, as nltk does.
 * Precisions are kept as exact integer fractions until they are turned into doubles, as nltk's
 * {@code Fraction}s are.
 */
public final class NltkBleu {

    /** nltk's {@code SmoothingFunction().methodN}. */
    public enum Smoothing {
        METHOD0,
        METHOD1,
        METHOD2,
        METHOD3,
        METHOD4,
        METHOD5,
        METHOD6,
        METHOD7;

        /** Parses {@code 0..7}, {@code m4} or {@code method4}. */
        public static Smoothing parse(String s) {
            String d = s.replaceFirst("^(method|m)", "");
            try {
                return values()[Integer.parseInt(d)];
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("unknown nltk smoothing method: " + s, e);
            }
        }
    }

    private static final double[] DEFAULT_WEIGHTS = {0.25, 0.25, 0.25, 0.25};

    private final double[] weights;
    private final Smoothing smoothing;
    private final double epsilon;
    private final double alpha;
    private final double k;

    /** Default weights (0.25 x 4) and nltk's default smoothing parameters (epsilon 0.1, alpha 5, k 5). */
    public NltkBleu(Smoothing smoothing) {
        this(DEFAULT_WEIGHTS, smoothing, 0.1, 5, 5);
    }

    public NltkBleu(double[] weights, Smoothing smoothing) {
        this(weights, smoothing, 0.1, 5, 5);
    }

    /** {@code SmoothingFunction(epsilon, alpha, k)}. */
    public NltkBleu(double[] weights, Smoothing smoothing, double epsilon, double alpha, double k) {
        if (weights.length == 0) {
            throw new IllegalArgumentException("BLEU needs at least one weight");
        }
        this.weights = weights.clone();
        this.smoothing = smoothing;
        this.epsilon = epsilon;
        this.alpha = alpha;
        this.k = k;
    }

    /** {@code sentence_bleu([r.lower().split() for r in references], candidate.lower().split())}. */
    public double sentence(String candidate, List<String> references) {
        List<List<String>> refs = new ArrayList<>(references.size());
        for (String r : references) {
            refs.add(PyText.lowerSplit(r));
        }
        return sentence(refs, PyText.lowerSplit(candidate));
    }

    /** nltk {@code sentence_bleu(references, hypothesis)} on already tokenised text. */
    public double sentence(List<? extends List<String>> references, List<String> hypothesis) {
        return corpus(List.of(references), List.of(hypothesis));
    }

    /** nltk {@code corpus_bleu(list_of_references, hypotheses)}. */
    public double corpus(
            List<? extends List<? extends List<String>>> listOfReferences, List<? extends List<String>> hypotheses) {
        if (listOfReferences.size() != hypotheses.size()) {
            throw new IllegalArgumentException("The number of hypotheses and their reference(s) should be the same: "
                    + hypotheses.size() + " hypotheses, " + listOfReferences.size() + " reference lists");
        }
        int orders = weights.length;
        long[] num = new long[orders];
        long[] den = new long[orders];
        long hypLengths = 0;
        long refLengths = 0;
        int[] lastHyp = null;
        List<int[]> lastRefs = null;
        for (int s = 0; s < hypotheses.size(); s++) {
            List<? extends List<String>> references = listOfReferences.get(s);
            if (references.isEmpty()) {
                throw new IllegalArgumentException("hypothesis " + s + " has no reference");
            }
            Ngrams.Vocab vocab = new Ngrams.Vocab();
            int[] hyp = vocab.encode(hypotheses.get(s));
            List<int[]> refs = new ArrayList<>(references.size());
            for (List<String> r : references) {
                refs.add(vocab.encode(r));
            }
            for (int n = 1; n <= orders; n++) {
                long[] p = modifiedPrecision(refs, hyp, n);
                num[n - 1] += p[0];
                den[n - 1] += p[1];
            }
            hypLengths += hyp.length;
            refLengths += closestRefLength(refs, hyp.length);
            lastHyp = hyp;
            lastRefs = refs;
        }
        double bp = brevityPenalty(refLengths, hypLengths);
        if (num[0] == 0) {
            return 0.0;
        }
        double[] p = smooth(num, den, lastRefs, lastHyp, hypLengths);
        double[] terms = new double[orders];
        int t = 0;
        for (int i = 0; i < orders; i++) {
            if (p[i] > 0) {
                terms[t++] = weights[i] * Math.log(p[i]);
            }
        }
        return bp * Math.exp(FSum.fsum(terms, t));
    }

    private double[] smooth(long[] num, long[] den, List<int[]> refs, int[] hyp, long hypLengths) {
        int orders = num.length;
        double[] p = new double[orders];
        for (int i = 0; i < orders; i++) {
            p[i] = (double) num[i] / den[i];
        }
        long hypLen = hypLengths != 0 ? hypLengths : hyp.length;
        switch (smoothing) {
            case METHOD0:
                for (int i = 0; i < orders; i++) {
                    if (num[i] == 0) {
                        p[i] = Double.MIN_NORMAL; // sys.float_info.min
                    }
                }
                return p;
            case METHOD1:
                for (int i = 0; i < orders; i++) {
                    if (num[i] == 0) {
                        p[i] = (0 + epsilon) / den[i];
                    }
                }
                return p;
            case METHOD2:
                for (int i = 1; i < orders; i++) {
                    p[i] = (double) (num[i] + 1) / (den[i] + 1);
                }
                return p;
            case METHOD3: {
                int incvnt = 1;
                for (int i = 0; i < orders; i++) {
                    if (num[i] == 0) {
                        p[i] = 1.0 / (Math.pow(2, incvnt) * den[i]);
                        incvnt++;
                    }
                }
                return p;
            }
            case METHOD4:
                method4(p, num, den, hypLen);
                return p;
            case METHOD5:
                method5(p, refs, hyp);
                return p;
            case METHOD6: {
                // nltk: `assert p_n[2]`, reached only when some unigram matched.
                if (orders < 3) {
                    throw new IllegalArgumentException("nltk smoothing method6 needs at least 3 n-gram orders");
                }
                if (p[2] == 0) {
                    throw new IllegalArgumentException(
                            "nltk smoothing method6 requires a non-zero trigram precision (nltk asserts p_n[2])");
                }
                for (int i = 2; i < orders; i++) {
                    double pi0 = p[i - 2] == 0 ? 0 : p[i - 1] * p[i - 1] / p[i - 2];
                    double m = num[i];
                    double l = Math.max(0, hyp.length - i);
                    p[i] = (m + alpha * pi0) / (l + alpha);
                }
                return p;
            }
            case METHOD7:
                method4(p, num, den, hypLen);
                method5(p, refs, hyp);
                return p;
            default:
                throw new AssertionError(smoothing);
        }
    }

    private void method4(double[] p, long[] num, long[] den, long hypLen) {
        int incvnt = 1;
        for (int i = 0; i < p.length; i++) {
            if (num[i] == 0 && hypLen > 1) {
                double numerator = 1.0 / (Math.pow(2, incvnt) * k / Math.log(hypLen));
                p[i] = numerator / den[i];
                incvnt++;
            }
        }
    }

    // nltk builds p_n + [modified_precision(..., 5)] before the loop, so the look-ahead term is
    // the unsmoothed-by-this-method value, and the 5-gram precision regardless of the weight count.
    private static void method5(double[] p, List<int[]> refs, int[] hyp) {
        double[] plus1 = Arrays.copyOf(p, p.length + 1);
        long[] p5 = modifiedPrecision(refs, hyp, 5);
        plus1[p.length] = (double) p5[0] / p5[1];
        double prev = p[0] + 1;
        for (int i = 0; i < p.length; i++) {
            p[i] = (prev + p[i] + plus1[i + 1]) / 3;
            prev = p[i];
        }
    }

    /** {numerator, denominator} of nltk's {@code modified_precision}. */
    static long[] modifiedPrecision(List<int[]> refs, int[] hyp, int n) {
        Map<Ngrams.Key, Integer> counts = Ngrams.count(hyp, n);
        Map<Ngrams.Key, Integer> maxRef = new HashMap<>();
        for (int[] ref : refs) {
            Map<Ngrams.Key, Integer> refCounts = Ngrams.count(ref, n);
            for (Ngrams.Key g : counts.keySet()) {
                maxRef.merge(g, refCounts.getOrDefault(g, 0), Math::max);
            }
        }
        long clipped = 0;
        long total = 0;
        for (Map.Entry<Ngrams.Key, Integer> e : counts.entrySet()) {
            clipped += Math.min(e.getValue(), maxRef.get(e.getKey()));
            total += e.getValue();
        }
        return new long[] {clipped, Math.max(1, total)};
    }

    private static int closestRefLength(List<int[]> refs, int hypLen) {
        int best = -1;
        for (int[] r : refs) {
            int len = r.length;
            if (best < 0
                    || Math.abs(len - hypLen) < Math.abs(best - hypLen)
                    || (Math.abs(len - hypLen) == Math.abs(best - hypLen) && len < best)) {
                best = len;
            }
        }
        return best;
    }

    private static double brevityPenalty(long closestRefLen, long hypLen) {
        if (hypLen > closestRefLen) {
            return 1.0;
        }
        if (hypLen == 0) {
            return 0.0;
        }
        return Math.exp(1 - (double) closestRefLen / hypLen);
    }
}
