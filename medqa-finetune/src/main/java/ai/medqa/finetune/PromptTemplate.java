package ai.medqa.finetune;

import java.util.Locale;
import java.util.Objects;

/**
 * How an {@link Example} becomes training text: {@code prompt} (no loss) followed by {@code
 * completion} (the loss). BOS is added as a token id before the prompt and EOS after the completion,
 * so that the model learns to stop; user text is always tokenized as text (a {@code </s>} typed in a
 * question never becomes a control token).
 *
 * <ul>
 *   <li>{@link #instruction()}: the seed's role prompt, then {@code Question: ...\nAnswer:} and the
 *       answer after a space. With contexts, {@code Context: ...} comes between the two.
 *   <li>{@link #mistralChat()}: the Mistral-Instruct format {@code <s>[INST] {prompt} [/INST]{answer}</s>},
 *       with the role prompt folded into the user turn as Mistral does with system prompts.
 *   <li>{@link #raw()}: the example's prompt and completion concatenated, for JSON Lines that are
 *       already formatted.
 * </ul>
 *
 * <p>A template renders three prompt parts so that truncation can shorten the contexts (the middle)
 * first and keep the instruction and the question.
 */
public final class PromptTemplate {
    /** The role prompt of the seed notebook, which the fine-tuned adapter is meant to be used with. */
    public static final String SEED_ROLE_PROMPT = "You are a medical assistant trained on biomedical literature and"
            + " clinical data. Answer the following question with accuracy and care. If unsure, suggest the user"
            + " consult a qualified healthcare professional.";

    enum Format {
        INSTRUCTION,
        MISTRAL_CHAT,
        RAW
    }

    private final Format format;
    private final String rolePrompt;
    private final boolean withContexts;

    private PromptTemplate(Format format, String rolePrompt, boolean withContexts) {
        this.format = format;
        this.rolePrompt = rolePrompt;
        this.withContexts = withContexts;
    }

    /** The seed's instruction prompt, without the abstract. */
    public static PromptTemplate instruction() {
        return new PromptTemplate(Format.INSTRUCTION, SEED_ROLE_PROMPT, false);
    }

    /** {@code <s>[INST] {role prompt}\n\nQuestion: {question} [/INST]{answer}</s>}, without the abstract. */
    public static PromptTemplate mistralChat() {
        return new PromptTemplate(Format.MISTRAL_CHAT, SEED_ROLE_PROMPT, false);
    }

    /** Prompt and completion as given (contexts, if any, each on a line before the prompt). */
    public static PromptTemplate raw() {
        return new PromptTemplate(Format.RAW, null, true);
    }

    /** The same template with the example's contexts (PubMedQA's abstract) before the question. */
    public PromptTemplate withContexts(boolean on) {
        return new PromptTemplate(format, rolePrompt, on);
    }

    /** The same template with another role prompt; {@code null} for none. Ignored by {@link #raw()}. */
    public PromptTemplate withRolePrompt(String prompt) {
        return new PromptTemplate(format, prompt, withContexts);
    }

    /** Parses {@code instruction}, {@code chat} or {@code raw}, optionally suffixed {@code +contexts}. */
    public static PromptTemplate parse(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        boolean ctx = n.endsWith("+contexts");
        String base = ctx ? n.substring(0, n.length() - "+contexts".length()) : n;
        PromptTemplate t = switch (base) {
            case "instruction" -> instruction();
            case "chat", "mistral-chat" -> mistralChat();
            case "raw" -> raw();
            default ->
                throw new IllegalArgumentException(
                        "template \"" + name + "\": expected instruction, chat or raw, optionally with +contexts");
        };
        return base.equals("raw") ? t : t.withContexts(ctx);
    }

    /** The prompt and completion text of {@code e} (without BOS/EOS, which are added as ids). */
    Rendered render(Example e) {
        String contexts = withContexts && !e.contexts().isEmpty() ? String.join(" ", e.contexts()) : "";
        String role = rolePrompt == null || rolePrompt.isEmpty() ? "" : rolePrompt + "\n\n";
        return switch (format) {
            case INSTRUCTION ->
                new Rendered(
                        role,
                        contexts.isEmpty() ? "" : "Context: " + contexts + "\n\n",
                        "Question: " + e.prompt() + "\nAnswer:",
                        " " + e.completion());
            // Mistral's template: '[INST] ' + content + ' [/INST]' then content + eos, no space between.
            case MISTRAL_CHAT ->
                new Rendered(
                        "[INST] " + role,
                        contexts.isEmpty() ? "" : "Context: " + contexts + "\n\n",
                        "Question: " + e.prompt() + " [/INST]",
                        e.completion());
            case RAW ->
                new Rendered(
                        "",
                        contexts.isEmpty() ? "" : String.join("\n", e.contexts()) + "\n",
                        e.prompt(),
                        e.completion());
        };
    }

    @Override
    public String toString() {
        return format.name().toLowerCase(Locale.ROOT) + (withContexts && format != Format.RAW ? "+contexts" : "");
    }

    /**
     * A rendered example: the prompt is {@code head + contexts + tail}; truncation shortens {@code
     * contexts} first.
     */
    record Rendered(String head, String contexts, String tail, String completion) {
        Rendered {
            Objects.requireNonNull(head);
            Objects.requireNonNull(contexts);
            Objects.requireNonNull(tail);
            Objects.requireNonNull(completion);
        }

        String prompt() {
            return head + contexts + tail;
        }
    }
}
