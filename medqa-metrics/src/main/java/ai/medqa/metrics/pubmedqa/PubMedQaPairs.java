package ai.medqa.metrics.pubmedqa;

import ai.medqa.metrics.lexical.PyText;
import java.util.ArrayList;
import java.util.List;

/**
 * The extractive baseline pairs of the project's golden files: candidate = last sentence of the
 * last context paragraph, reference = the long answer.
 */
public final class PubMedQaPairs {
    /** A candidate answer and its reference. */
    public record Pair(String pmid, String candidate, String reference) {}

    private PubMedQaPairs() {}

    public static List<Pair> lastSentenceBaseline(List<PubMedQaItem> items) {
        List<Pair> out = new ArrayList<>(items.size());
        for (PubMedQaItem i : items) {
            String last =
                    i.contexts().isEmpty() ? "" : i.contexts().get(i.contexts().size() - 1);
            out.add(new Pair(i.pmid(), lastSentence(last), i.longAnswer()));
        }
        return out;
    }

    /**
     * Python's {@code re.split(r'(?<=[.!?])\s+', paragraph.strip())}, last non-empty piece stripped;
     * "" when there is none.
     */
    public static String lastSentence(String paragraph) {
        String p = PyText.strip(paragraph);
        List<String> pieces = new ArrayList<>();
        int start = 0;
        int i = 0;
        while (i < p.length()) {
            int cp = p.codePointAt(i);
            if (PyText.isSpace(cp) && i > 0 && isTerminator(p.charAt(i - 1))) {
                pieces.add(p.substring(start, i));
                while (i < p.length() && PyText.isSpace(p.codePointAt(i))) {
                    i += Character.charCount(p.codePointAt(i));
                }
                start = i;
                continue;
            }
            i += Character.charCount(cp);
        }
        pieces.add(p.substring(start));
        for (int k = pieces.size() - 1; k >= 0; k--) {
            String s = PyText.strip(pieces.get(k));
            if (!s.isEmpty()) {
                return s;
            }
        }
        return "";
    }

    private static boolean isTerminator(char c) {
        return c == '.' || c == '!' || c == '?';
    }
}
