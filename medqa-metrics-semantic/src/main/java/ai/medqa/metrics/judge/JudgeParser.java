package ai.medqa.metrics.judge;

import java.util.OptionalDouble;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a judge's reply in the {@code Feedback::: / Evaluation: / Total rating:} format.
 *
 * <p>The rating is the first number after the first {@code Total rating:} label (case-insensitive;
 * markdown emphasis, brackets, extra spaces or words such as "I would give it a" may come first;
 * decimals such as 3.5 are kept; "4/4" and "3 out of 4" give 4 and 3). That number must be on the
 * label's line, or on the next non-blank line when the label ends its line: a number further on
 * belongs to the rationale, and taking it would be a guess. Models that keep going often write several
 * Feedback blocks (the cookbook shows a reply with four); only the first counts, because the later ones
 * answer questions nobody asked. A label that merely repeats the template
 * ({@code Total rating: (your rating, ...)}) is skipped, since its "1 and 4" are not a rating. A reply
 * with no such number is {@link JudgeVerdict.Status#MISSING_RATING}; words ("four") are not read.
 */
public final class JudgeParser {
    private static final Pattern RATING_LABEL =
            Pattern.compile("\\btotal[ \\t]*rating[*_ \\t]*:", Pattern.CASE_INSENSITIVE);
    private static final Pattern EVALUATION_LABEL =
            Pattern.compile("\\bevaluation[*_ \\t]*:", Pattern.CASE_INSENSITIVE);
    private static final Pattern FEEDBACK_HEADER =
            Pattern.compile("^[\\s*#_]*feedback[ \\t]*:::[ \\t]*", Pattern.CASE_INSENSITIVE);
    private static final Pattern NEXT_FEEDBACK_HEADER = Pattern.compile("feedback[ \\t]*:::", Pattern.CASE_INSENSITIVE);
    /** A number standing on its own (not the "100" of "H100"); a sign kept so that -1 is out of range. */
    private static final Pattern NUMBER = Pattern.compile("(?<![\\w.])([-+]?\\d+(?:\\.\\d+)?)");

    private static final Pattern TEMPLATE_ECHO =
            Pattern.compile("^[\\s*_]*\\(\\s*your rating", Pattern.CASE_INSENSITIVE);

    private JudgeParser() {}

    /** Parses a reply on the prompt's 1-4 scale. */
    public static JudgeVerdict parse(String reply) {
        return parse(reply, JudgePrompt.MIN_RATING, JudgePrompt.MAX_RATING);
    }

    /** Parses a reply; a stated rating outside {@code [min, max]} is {@link JudgeVerdict.Status#OUT_OF_RANGE}. */
    public static JudgeVerdict parse(String reply, double min, double max) {
        String text = reply == null ? "" : reply;
        Matcher label = RATING_LABEL.matcher(text);
        int labelStart = -1;
        OptionalDouble stated = OptionalDouble.empty();
        while (label.find()) {
            String after = ratingText(text, label.end());
            if (TEMPLATE_ECHO.matcher(after).find()) {
                continue;
            }
            labelStart = label.start();
            Matcher number = NUMBER.matcher(after);
            if (number.find()) {
                stated = OptionalDouble.of(Double.parseDouble(number.group(1)));
            }
            // The first real label decides, number or not: a later block's rating is not this one's.
            break;
        }
        String feedback = feedback(text, labelStart);
        if (stated.isEmpty()) {
            return new JudgeVerdict(JudgeVerdict.Status.MISSING_RATING, stated, feedback, text);
        }
        double r = stated.getAsDouble();
        JudgeVerdict.Status status = r >= min && r <= max ? JudgeVerdict.Status.OK : JudgeVerdict.Status.OUT_OF_RANGE;
        return new JudgeVerdict(status, stated, feedback, text);
    }

    /** The rest of the label's line, or the next non-blank line when the rest is only decoration. */
    private static String ratingText(String text, int from) {
        int eol = lineEnd(text, from);
        String rest = text.substring(from, eol);
        if (!rest.replaceAll("[\\s*_`]", "").isEmpty() || eol >= text.length()) {
            return rest;
        }
        int start = eol + 1;
        while (start < text.length()) {
            int end = lineEnd(text, start);
            String line = text.substring(start, end);
            if (!line.isBlank()) {
                return line;
            }
            start = end + 1;
        }
        return "";
    }

    private static int lineEnd(String text, int from) {
        int eol = text.indexOf('\n', from);
        return eol < 0 ? text.length() : eol;
    }

    /**
     * The rationale of the block whose rating counted: the text after the {@code Evaluation:} before
     * that rating label; else the text before the label (the prompt ends with "Evaluation: ", so a
     * completion often starts right with the rationale); else, for a rating written first, the text
     * after the next {@code Evaluation:}. Each stops at the next rating label or Feedback header.
     */
    private static String feedback(String text, int ratingLabel) {
        int end = ratingLabel < 0 ? text.length() : ratingLabel;
        int evalEnd = lastEvaluationEnd(text, 0, end);
        if (evalEnd >= 0) {
            return clean(text.substring(evalEnd, end));
        }
        String before = clean(FEEDBACK_HEADER.matcher(text.substring(0, end)).replaceFirst(""));
        if (!before.isEmpty() || ratingLabel < 0) {
            return before;
        }
        Matcher eval = EVALUATION_LABEL.matcher(text);
        if (!eval.find(ratingLabel)) {
            return "";
        }
        return clean(text.substring(eval.end(), blockEnd(text, eval.end())));
    }

    private static int lastEvaluationEnd(String text, int from, int to) {
        Matcher eval = EVALUATION_LABEL.matcher(text).region(from, to);
        int last = -1;
        while (eval.find()) {
            last = eval.end();
        }
        return last;
    }

    private static int blockEnd(String text, int from) {
        int end = text.length();
        Matcher rating = RATING_LABEL.matcher(text);
        if (rating.find(from)) {
            end = rating.start();
        }
        Matcher header = NEXT_FEEDBACK_HEADER.matcher(text);
        if (header.find(from)) {
            end = Math.min(end, header.start());
        }
        return end;
    }

    /** Trims whitespace and the markdown emphasis or list markers a label leaves behind. */
    private static String clean(String s) {
        return s.replaceAll("^[\\s*_]+", "").replaceAll("[\\s*_#-]+$", "");
    }
}
