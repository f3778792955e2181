package ai.medqa.eval;

import ai.medqa.MedQA;
import ai.medqa.chat.Conversation;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import ai.medqa.model.ContextOverflowException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Prompt templates with the placeholders {@code {question}} and {@code {context}} (the abstract), and
 * generate mode's chat prompt of a question made from them.
 */
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

    /** A chat prompt's token ids and how many abstract sections were left out to fit. */
    record Prompt(int[] ids, int truncated) {}

    /**
     * The notebook's prompt: the question (after the abstract, when the configuration has contexts) as
     * the user turn of the chat template, the configuration's system prompt folded in, its sampling
     * settings' budget left free.
     */
    static Prompt chat(MedQA medqa, Evaluation.Config config, PubMedQaItem item) {
        int sections = config.contexts() ? item.contexts().size() : 0;
        while (true) {
            String template = config.template() != null
                    ? config.template()
                    : config.contexts() ? "Context: {context}\n\nQuestion: {question}" : "{question}";
            String user = render(
                    template, item.question(), String.join("\n", item.contexts().subList(0, sections)));
            Conversation c =
                    config.systemPrompt() == null ? new Conversation() : new Conversation(config.systemPrompt());
            try {
                return new Prompt(
                        medqa.chatPromptIds(c.addUser(user), config.sampling()),
                        config.contexts() ? item.contexts().size() - sections : 0);
            } catch (ContextOverflowException e) {
                // Too long for the context with max_new_tokens: the abstract loses its last section,
                // never the question; with no abstract left the question itself does not fit.
                if (sections == 0) {
                    throw new ContextOverflowException("PMID " + item.pmid() + ": " + e.getMessage());
                }
                sections--;
            }
        }
    }
}
