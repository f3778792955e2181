package ai.medqa.metrics.lexical;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The few Python {@code str} operations the reference metrics are defined with. Java's own
 * {@code trim}, {@code split("\\s+")} and {@link Character#isWhitespace} disagree with Python on
 * non-breaking and other Unicode spaces, which would change token counts on real text.
 */
public final class PyText {
    private PyText() {}

    /** Python's {@code str.isspace()} for one code point. */
    public static boolean isSpace(int cp) {
        switch (cp) {
            case 0x09:
            case 0x0A:
            case 0x0B:
            case 0x0C:
            case 0x0D:
            case 0x1C:
            case 0x1D:
            case 0x1E:
            case 0x1F:
            case 0x20:
            case 0x85:
            case 0xA0:
            case 0x1680:
            case 0x2028:
            case 0x2029:
            case 0x202F:
            case 0x205F:
            case 0x3000:
                return true;
            default:
                return cp >= 0x2000 && cp <= 0x200A;
        }
    }

    /** Python's {@code str.split()} with no arguments: runs of whitespace, no empty pieces. */
    public static List<String> split(String s) {
        List<String> out = new ArrayList<>();
        int n = s.length();
        int i = 0;
        while (i < n) {
            while (i < n && isSpace(s.codePointAt(i))) {
                i += Character.charCount(s.codePointAt(i));
            }
            if (i >= n) {
                break;
            }
            int start = i;
            while (i < n && !isSpace(s.codePointAt(i))) {
                i += Character.charCount(s.codePointAt(i));
            }
            out.add(s.substring(start, i));
        }
        return out;
    }

    /** Python's {@code str.strip()}. */
    public static String strip(String s) {
        int start = 0;
        int end = s.length();
        while (start < end && isSpace(s.codePointAt(start))) {
            start += Character.charCount(s.codePointAt(start));
        }
        while (end > start && isSpace(s.codePointBefore(end))) {
            end -= Character.charCount(s.codePointBefore(end));
        }
        return s.substring(start, end);
    }

    /** Python's {@code str.rstrip()}. */
    public static String rstrip(String s) {
        int end = s.length();
        while (end > 0 && isSpace(s.codePointBefore(end))) {
            end -= Character.charCount(s.codePointBefore(end));
        }
        return s.substring(0, end);
    }

    /** Python's {@code str.lower()} (full Unicode mapping; the root locale avoids Turkish rules). */
    public static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    /** {@code text.lower().split()}: the tokenisation the nltk BLEU and set-F1 golden values use. */
    public static List<String> lowerSplit(String s) {
        return split(lower(s));
    }

    /** A character Python's {@code re} counts as {@code \w} in a str pattern. */
    static boolean isWordChar(int cp) {
        if (cp == '_' || Character.isLetterOrDigit(cp)) {
            return true;
        }
        int type = Character.getType(cp);
        return type == Character.OTHER_NUMBER || type == Character.LETTER_NUMBER;
    }
}
