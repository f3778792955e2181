package ai.medqa.generate;

/**
 * A regular expression as users write them (Python's re, JavaScript, vLLM's {@code guided_regex}),
 * rewritten for dk.brics.automaton, whose syntax differs: there a bare {@code "} opens a string
 * literal and a backslash makes any character literal ({@code \d} would be "d"). Translated:
 * {@code \d \D \w \W \s \S} (also inside classes, except the negated ones), {@code \n \t \r \f \v},
 * {@code \\uXXXX}, {@code .} as any character but a newline, {@code (?:...)} as a group, lazy
 * quantifiers as greedy ones (the same language), a leading {@code ^} and a trailing {@code $}
 * dropped (the whole answer matches anyway). Refused, naming them: other anchors, look-arounds,
 * back-references, word boundaries, named groups and other escapes of letters.
 */
final class UserRegex {
    private static final String DIGIT = "0-9";
    private static final String WORD = "a-zA-Z0-9_";
    private static final String SPACE = " \t\n\r\f\u000B";

    private UserRegex() {}

    /** Any one code point (a surrogate pair whole) but a newline: what "." means elsewhere. */
    private static final String ANY = "([^\\n\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])";

    /** A negated class over code points: brics reads UTF-16 units, so a pair must not match as two. */
    private static String negated(String body) {
        return "([^" + body + "\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])";
    }

    static String toBrics(String re) {
        StringBuilder out = new StringBuilder();
        int n = re.length();
        int start = re.startsWith("^") ? 1 : 0;
        int end = n > start && re.endsWith("$") && !re.endsWith("\\$") ? n - 1 : n;
        for (int i = start; i < end; i++) {
            char c = re.charAt(i);
            if (c == '\\') {
                if (i + 1 >= end) {
                    throw new IllegalArgumentException("a trailing backslash escapes nothing");
                }
                char e = re.charAt(++i);
                if (e == 'D' || e == 'W' || e == 'S') {
                    out.append(negated(escapeAll(e == 'D' ? DIGIT : e == 'W' ? WORD : SPACE)));
                } else if (e == 'u') {
                    out.append('\\').append(unicode(re, i, end));
                    i += 4;
                } else {
                    String cls = shorthand(e);
                    out.append(cls != null ? "[" + cls + "]" : "\\" + escaped(e));
                }
                continue;
            }
            switch (c) {
                case '[' -> i = characterClass(re, i, end, out);
                case '"' -> out.append("\\\"");
                case '.' -> out.append(ANY);
                case '^', '$' ->
                    throw new IllegalArgumentException("the anchor " + c + " is supported only at the start "
                            + "(^) or the end ($): the whole answer matches");
                case '(' -> {
                    out.append('(');
                    if (i + 1 < end && re.charAt(i + 1) == '?') {
                        if (i + 2 < end && re.charAt(i + 2) == ':') {
                            i += 2; // (?:...) is a group like any other here
                        } else {
                            throw new IllegalArgumentException("(?" + (i + 2 < end ? re.charAt(i + 2) : "")
                                    + "...): look-arounds, named groups and flags are not supported");
                        }
                    }
                }
                case '*', '+', '?', '}' -> {
                    out.append(c);
                    if (i + 1 < end && re.charAt(i + 1) == '?') {
                        i++; // lazy: the same language
                    }
                }
                case '&', '~', '#', '@', '<', '>' -> out.append('\\').append(c); // brics operators under other flags
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    /** The class opening at {@code open}, appended translated; returns the index of its closing ]. */
    private static int characterClass(String re, int open, int end, StringBuilder out) {
        int i = open + 1;
        boolean negate = i < end && re.charAt(i) == '^';
        if (negate) {
            i++;
        }
        StringBuilder body = new StringBuilder();
        if (i < end && re.charAt(i) == ']') { // a leading ] is a literal, as in Python
            body.append("\\]");
            i++;
        }
        for (; i < end; i++) {
            char c = re.charAt(i);
            if (c == ']') {
                if (body.length() == 0) {
                    throw new IllegalArgumentException("an empty character class [] matches nothing");
                }
                out.append(negate ? negated(body.toString()) : "[" + body + "]");
                return i;
            }
            if (c == '\\' && i + 1 < end) {
                char e = re.charAt(++i);
                if (e == 'D' || e == 'W' || e == 'S') {
                    throw new IllegalArgumentException("\\" + e + " inside a character class is not supported");
                }
                if (e == 'u') {
                    body.append('\\').append(unicode(re, i, end));
                    i += 4;
                    continue;
                }
                String cls = shorthand(e);
                body.append(cls != null ? cls : "\\" + escaped(e));
            } else if (c == '[' || c == '"') {
                body.append('\\').append(c);
            } else {
                body.append(c);
            }
        }
        throw new IllegalArgumentException("a character class [ is not closed");
    }

    private static String shorthand(char e) {
        return switch (e) {
            case 'd' -> DIGIT;
            case 'w' -> WORD;
            case 's' -> escapeAll(SPACE);
            default -> null;
        };
    }

    private static char unicode(String re, int at, int end) {
        String hex = re.substring(at + 1, Math.min(at + 5, end));
        if (!hex.matches("[0-9a-fA-F]{4}")) {
            throw new IllegalArgumentException("\\u needs four hex digits, got \\u" + hex);
        }
        return (char) Integer.parseInt(hex, 16);
    }

    /** The character {@code \e} stands for (brics then reads it literally after a backslash). */
    private static char escaped(char e) {
        return switch (e) {
            case 'n' -> '\n';
            case 't' -> '\t';
            case 'r' -> '\r';
            case 'f' -> '\f';
            case 'v' -> '\u000B';
            default -> {
                if (Character.isLetterOrDigit(e)) {
                    throw new IllegalArgumentException("the escape \\" + e + " is not supported (anchors, word "
                            + "boundaries, back-references and Unicode classes cannot be constrained)");
                }
                yield e;
            }
        };
    }

    private static String escapeAll(String chars) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < chars.length(); i++) {
            char c = chars.charAt(i);
            if (c == '-' && i > 0 && i < chars.length() - 1 && Character.isLetterOrDigit(chars.charAt(i - 1))) {
                s.append('-'); // a range inside the shorthand (0-9, a-z)
            } else if (Character.isLetterOrDigit(c)) {
                s.append(c);
            } else {
                s.append('\\').append(c);
            }
        }
        return s.toString();
    }
}
