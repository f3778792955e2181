package ai.medqa.metrics.lexical;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * sacreBLEU's BLEU (sacrebleu 2.x {@code BLEU()} defaults): the 13a tokenizer (mteval-v13a, as WMT
 * uses), case-sensitive, 'exp' smoothing, max order 4, on a 0-100 scale. {@link #corpus} is
 * {@code sacrebleu.corpus_bleu}; {@link #sentence} is {@code sacrebleu.sentence_bleu}, which turns
 * on effective order. A second, named BLEU because its numbers are not nltk's.
 */
public final class SacreBleu {
    private static final int MAX_ORDER = 4;
    private static final Pattern PERIOD_COMMA_AFTER_NON_DIGIT = Pattern.compile("([^0-9])([\\.,])");
    private static final Pattern PERIOD_COMMA_BEFORE_NON_DIGIT = Pattern.compile("([\\.,])([^0-9])");
    private static final Pattern DASH_AFTER_DIGIT = Pattern.compile("([0-9])(-)");

    /** The result, as sacreBLEU's {@code BLEUScore}: score and precisions in percent. */
    public record Score(
            double score, long[] correct, long[] total, double[] precisions, double bp, long sysLen, long refLen) {}

    private SacreBleu() {}

    /** sacreBLEU's 13a tokenizer; returns the tokens joined by single spaces, as sacreBLEU does. */
    public static String tokenize13a(String line) {
        line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ");
        if (line.indexOf('&') >= 0) {
            line = line.replace("&quot;", "\"")
                    .replace("&amp;", "&")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">");
        }
        line = " " + line + " ";
        StringBuilder sb = new StringBuilder(line.length() * 2);
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (isSeparatedSymbol(c)) {
                sb.append(' ').append(c).append(' ');
            } else {
                sb.append(c);
            }
        }
        line = PERIOD_COMMA_AFTER_NON_DIGIT.matcher(sb).replaceAll("$1 $2 ");
        line = PERIOD_COMMA_BEFORE_NON_DIGIT.matcher(line).replaceAll(" $1 $2");
        line = DASH_AFTER_DIGIT.matcher(line).replaceAll("$1 $2 ");
        return String.join(" ", PyText.split(line));
    }

    // [\{-\~\[-\` -\&\(-\+\:-\@\/]
    private static boolean isSeparatedSymbol(char c) {
        return (c >= '{' && c <= '~')
                || (c >= '[' && c <= '`')
                || (c >= ' ' && c <= '&')
                || (c >= '(' && c <= '+')
                || (c >= ':' && c <= '@')
                || c == '/';
    }

    /**
     * {@code sacrebleu.corpus_bleu(hypotheses, referenceStreams)}: each stream holds one reference per
     * hypothesis; a null entry means that hypothesis has fewer references.
     */
    public static Score corpus(List<String> hypotheses, List<List<String>> referenceStreams) {
        for (List<String> stream : referenceStreams) {
            if (stream.size() != hypotheses.size()) {
                throw new IllegalArgumentException(
                        "reference stream has " + stream.size() + " lines for " + hypotheses.size() + " hypotheses");
            }
        }
        long[] stats = new long[2 + 2 * MAX_ORDER];
        for (int s = 0; s < hypotheses.size(); s++) {
            List<String> refs = new ArrayList<>();
            for (List<String> stream : referenceStreams) {
                if (stream.get(s) != null) {
                    refs.add(stream.get(s));
                }
            }
            long[] seg = segmentStats(hypotheses.get(s), refs);
            for (int i = 0; i < stats.length; i++) {
                stats[i] += seg[i];
            }
        }
        return compute(stats, false);
    }

    /** {@code sacrebleu.sentence_bleu(hypothesis, references)} (effective order on). */
    public static Score sentence(String hypothesis, List<String> references) {
        return compute(segmentStats(hypothesis, references), true);
    }

    private static long[] segmentStats(String hypothesis, List<String> references) {
        if (references.isEmpty()) {
            throw new IllegalArgumentException("a hypothesis needs at least one reference");
        }
        Ngrams.Vocab vocab = new Ngrams.Vocab();
        int[] hyp = vocab.encode(PyText.split(tokenize13a(PyText.rstrip(hypothesis))));
        List<Map<Ngrams.Key, Integer>> refMax = new ArrayList<>();
        for (int n = 1; n <= MAX_ORDER; n++) {
            refMax.add(new HashMap<>());
        }
        int closestDiff = -1;
        int closestLen = -1;
        for (String r : references) {
            int[] ref = vocab.encode(PyText.split(tokenize13a(PyText.rstrip(r))));
            for (int n = 1; n <= MAX_ORDER; n++) {
                for (Map.Entry<Ngrams.Key, Integer> e : Ngrams.count(ref, n).entrySet()) {
                    refMax.get(n - 1).merge(e.getKey(), e.getValue(), Math::max);
                }
            }
            int diff = Math.abs(hyp.length - ref.length);
            if (closestDiff == -1 || diff < closestDiff) {
                closestDiff = diff;
                closestLen = ref.length;
            } else if (diff == closestDiff && ref.length < closestLen) {
                closestLen = ref.length;
            }
        }
        long[] stats = new long[2 + 2 * MAX_ORDER];
        stats[0] = hyp.length;
        stats[1] = closestLen;
        for (int n = 1; n <= MAX_ORDER; n++) {
            for (Map.Entry<Ngrams.Key, Integer> e : Ngrams.count(hyp, n).entrySet()) {
                stats[2 + MAX_ORDER + n - 1] += e.getValue();
                Integer rc = refMax.get(n - 1).get(e.getKey());
                if (rc != null) {
                    stats[2 + n - 1] += Math.min(e.getValue(), rc);
                }
            }
        }
        return stats;
    }

    private static Score compute(long[] stats, boolean effectiveOrder) {
        long sysLen = stats[0];
        long refLen = stats[1];
        long[] correct = new long[MAX_ORDER];
        long[] total = new long[MAX_ORDER];
        System.arraycopy(stats, 2, correct, 0, MAX_ORDER);
        System.arraycopy(stats, 2 + MAX_ORDER, total, 0, MAX_ORDER);
        double bp = 1.0;
        if (sysLen < refLen) {
            bp = sysLen > 0 ? Math.exp(1 - (double) refLen / sysLen) : 0.0;
        }
        double[] precisions = new double[MAX_ORDER];
        boolean anyCorrect = false;
        for (long c : correct) {
            anyCorrect |= c != 0;
        }
        if (!anyCorrect) {
            return new Score(0.0, correct, total, precisions, bp, sysLen, refLen);
        }
        double smoothMteval = 1.0;
        int effOrder = MAX_ORDER;
        for (int n = 1; n <= MAX_ORDER; n++) {
            if (total[n - 1] == 0) {
                break;
            }
            if (effectiveOrder) {
                effOrder = n;
            }
            if (correct[n - 1] == 0) {
                smoothMteval *= 2;
                precisions[n - 1] = 100. / (smoothMteval * total[n - 1]);
            } else {
                precisions[n - 1] = 100. * correct[n - 1] / total[n - 1];
            }
        }
        double sum = 0;
        for (int i = 0; i < effOrder; i++) {
            sum += precisions[i] == 0 ? -9999999999.0 : Math.log(precisions[i]);
        }
        return new Score(bp * Math.exp(sum / effOrder), correct, total, precisions, bp, sysLen, refLen);
    }
}
