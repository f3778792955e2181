package ai.medqa.eval;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Prompt templates with the placeholders {@code {question}} and {@code {context}} (the abstract). */
public final class Prompts {
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([^{}]*)\\}");

    private Prompts() {}

    /** Refuses placeholders other than {question} and {context}, and a template without {question}. */
    public static void check(String template, String where) {
        Matcher m = PLACEHOLDER.matcher(template);
        while (m.find()) {
            if (!m.group(1).equals("question") && !m.group(1).equals("context")) {
                throw new IllegalArgumentException(
                        where + ": unknown placeholder {" + m.group(1) + "}; templates know {question} and {context}");
            }
        }
        if (!template.contains("{question}")) {
            throw new IllegalArgumentException(where + ": the template has no {question}");
        }
    }

    public static String render(String template, String question, String context) {
        // One pass, so that braces inside the question or abstract are never read as placeholders.
        Matcher m = PLACEHOLDER.matcher(template);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(out, Matcher.quoteReplacement(m.group(1).equals("question") ? question : context));
        }
        m.appendTail(out);
        return out.toString();
    }
}
