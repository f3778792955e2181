package ai.medqa.metrics.lexical;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Token-overlap F1 and exact match.
 *
 * <p>{@link #squadF1} and {@link #exactMatch} follow SQuAD v1.1's official {@code evaluate-v1.1.py}:
 * lowercase, delete ASCII punctuation, delete the words a/an/the, collapse whitespace, then compare
 * token multisets; several references give the maximum. {@link #setF1} is the seed notebook's
 * variant, kept under its own name because its numbers differ (sets for the overlap, list lengths
 * for precision and recall, no normalisation beyond lowercase).
 */
public final class TokenF1 {
    private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    private TokenF1() {}

    /** SQuAD's {@code normalize_answer}. */
    public static String normalize(String s) {
        String lower = PyText.lower(s);
        StringBuilder noPunct = new StringBuilder(lower.length());
        for (int i = 0; i < lower.length(); i++) {
            char c = lower.charAt(i);
            if (PUNCTUATION.indexOf(c) < 0) {
                noPunct.append(c);
            }
        }
        return String.join(" ", PyText.split(removeArticles(noPunct.toString())));
    }

    // re.sub(r'\b(a|an|the)\b', ' ', s): a match can only be a whole run of word characters.
    private static String removeArticles(String s) {
        StringBuilder out = new StringBuilder(s.length());
        int i = 0;
        int n = s.length();
        while (i < n) {
            int cp = s.codePointAt(i);
            if (!PyText.isWordChar(cp)) {
                out.appendCodePoint(cp);
                i += Character.charCount(cp);
                continue;
            }
            int start = i;
            while (i < n && PyText.isWordChar(s.codePointAt(i))) {
                i += Character.charCount(s.codePointAt(i));
            }
            String word = s.substring(start, i);
            out.append(word.equals("a") || word.equals("an") || word.equals("the") ? " " : word);
        }
        return out.toString();
    }

    /** SQuAD token F1 against one reference. */
    public static double squadF1(String prediction, String reference) {
        List<String> pred = PyText.split(normalize(prediction));
        List<String> ref = PyText.split(normalize(reference));
        Map<String, Integer> refCounts = new HashMap<>();
        for (String t : ref) {
            refCounts.merge(t, 1, Integer::sum);
        }
        int common = 0;
        for (String t : pred) {
            Integer c = refCounts.get(t);
            if (c != null && c > 0) {
                common++;
                refCounts.put(t, c - 1);
            }
        }
        return f1(common, pred.size(), ref.size());
    }

    /** SQuAD token F1, maximum over the references ({@code metric_max_over_ground_truths}). */
    public static double squadF1(String prediction, List<String> references) {
        requireReferences(references);
        double best = Double.NEGATIVE_INFINITY;
        for (String r : references) {
            best = Math.max(best, squadF1(prediction, r));
        }
        return best;
    }

    /** SQuAD exact match: 1 when the normalised strings are equal. */
    public static double exactMatch(String prediction, String reference) {
        return normalize(prediction).equals(normalize(reference)) ? 1.0 : 0.0;
    }

    /** SQuAD exact match, maximum over the references. */
    public static double exactMatch(String prediction, List<String> references) {
        requireReferences(references);
        double best = 0.0;
        for (String r : references) {
            best = Math.max(best, exactMatch(prediction, r));
        }
        return best;
    }

    /** The seed notebook's set F1 on {@code lower().split()} tokens. */
    public static double setF1(String prediction, String reference) {
        List<String> pred = PyText.lowerSplit(prediction);
        List<String> ref = PyText.lowerSplit(reference);
        Set<String> common = new HashSet<>(pred);
        common.retainAll(new HashSet<>(ref));
        return f1(common.size(), pred.size(), ref.size());
    }

    /** Set F1, maximum over the references. */
    public static double setF1(String prediction, List<String> references) {
        requireReferences(references);
        double best = Double.NEGATIVE_INFINITY;
        for (String r : references) {
            best = Math.max(best, setF1(prediction, r));
        }
        return best;
    }

    private static double f1(int common, int predLen, int refLen) {
        if (common == 0) {
            return 0.0;
        }
        double p = (double) common / predLen;
        double r = (double) common / refLen;
        return 2 * p * r / (p + r);
    }

    private static void requireReferences(List<String> references) {
        if (references.isEmpty()) {
            throw new IllegalArgumentException("at least one reference is needed");
        }
    }
}
