package ai.medqa.chat;

import ai.medqa.chat.Message.Role;
import ai.medqa.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * Turns a list of chat messages into the prompt ids a model was trained on.
 *
 * <p>Two formats: the Jinja {@code chat_template} of the checkpoint's {@code tokenizer_config.json}
 * ({@link #jinja}), or, where there is none, the Mistral-Instruct format built in ({@link #mistral}),
 * which gives exactly what the Mistral-7B-Instruct-v0.1 template gives:
 * {@code <s>[INST] user [/INST]assistant</s> [INST] user [/INST]}.
 *
 * <p><b>System prompt.</b> Mistral's format has no system role. A leading system message is folded
 * into the first user message as {@code system + "\n\n" + user}, as Mistral's own later templates
 * do (the v0.1 template itself raises on a system role). Templates whose source mentions
 * {@code system} get the messages unchanged and handle the role themselves.
 *
 * <p><b>User text stays text.</b> Message content is encoded with
 * {@link Tokenizer#encodeLiteral}: {@code </s>}, {@code <s>} or {@code [INST]} typed in a message
 * are ordinary characters, never control ids, so a message can neither end its turn nor forge
 * another. Only text the template itself writes ({@code bos_token}, {@code eos_token}) becomes
 * control ids. Everywhere else the ids equal transformers' {@code apply_chat_template}: text between
 * two control tokens is encoded as one piece, exactly as transformers does, so the tokenizer's
 * leading-space rule and merges across the template/message boundary come out the same. See the
 * package documentation for the details.
 *
 * <p>Instances are immutable and thread-safe; they use, but do not own, the tokenizer.
 */
public abstract sealed class ChatTemplate permits JinjaChatTemplate, MistralChatTemplate {
    /** The separator Mistral's later official templates put between system prompt and first user message. */
    static final String SYSTEM_SEPARATOR = "\n\n";

    final Tokenizer tokenizer;
    /** Special-token strings (e.g. "</s>"), longest first so that a longer one wins where two overlap. */
    private final List<SpecialToken> specialTokens;

    ChatTemplate(Tokenizer tokenizer) {
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.specialTokens = specialTokens(tokenizer);
    }

    /** The checkpoint's Jinja template when {@code tokenizer_config.json} has one, else the built-in Mistral format. */
    public static ChatTemplate of(Tokenizer tokenizer) {
        return tokenizer
                .chatTemplate()
                .<ChatTemplate>map(source -> jinja(tokenizer, source))
                .orElseGet(() -> mistral(tokenizer));
    }

    /**
     * A Jinja chat template as transformers renders it ({@code trim_blocks}, {@code lstrip_blocks},
     * {@code raise_exception}, {@code bos_token}, {@code eos_token}, {@code add_generation_prompt}).
     *
     * @throws ChatTemplateException if the template does not parse
     */
    public static ChatTemplate jinja(Tokenizer tokenizer, String source) {
        return new JinjaChatTemplate(tokenizer, source, !JinjaChatTemplate.handlesSystemRole(source));
    }

    /** The built-in Mistral-Instruct format, identical to the Mistral-7B-Instruct-v0.1 template. */
    public static ChatTemplate mistral(Tokenizer tokenizer) {
        return new MistralChatTemplate(tokenizer);
    }

    /** {@link #encode(List, boolean)} with the generation prompt: ids to generate the next reply from. */
    public int[] encode(List<Message> messages) {
        return encode(messages, true);
    }

    /**
     * The prompt ids of {@code messages}, starting with BOS.
     *
     * @param addGenerationPrompt passed to the template as {@code add_generation_prompt} (Mistral's
     *     format ignores it: a prompt that ends with a user message already ends with {@code [/INST]})
     * @throws ChatTemplateException if the template rejects the messages (e.g. roles not alternating)
     */
    public int[] encode(List<Message> messages, boolean addGenerationPrompt) {
        return encodeSegments(segments(checked(messages), addGenerationPrompt, null));
    }

    /**
     * Whether the template renders tools itself (it reads a {@code tools} variable, as Mistral
     * v0.3's does): {@link #encode(List, List)} then gives it the tools, tool calls and tool results
     * as structured data, and the model answers in its own tool-call syntax ({@link Tools}).
     */
    public boolean rendersTools() {
        return false;
    }

    /**
     * The prompt ids of {@code messages} with the generation prompt, {@code tools} passed to a
     * template that {@link #rendersTools renders tools} (as transformers' {@code
     * apply_chat_template(messages, tools=...)}: each {@code {"type": "function", "function":
     * {name, description, parameters}}}). Every text of the tools (names, descriptions, schemas,
     * arguments) stays text, as message contents do.
     *
     * @throws IllegalStateException if this template does not render tools
     * @throws ChatTemplateException if the template rejects the messages
     */
    public int[] encode(List<Message> messages, List<Tools.Tool> tools) {
        if (!rendersTools()) {
            throw new IllegalStateException(
                    "this chat template does not render tools; Tools describes them in the prompt");
        }
        return encodeSegments(segments(checked(messages), true, List.copyOf(tools)));
    }

    /**
     * The prompt as text, for display. {@code tokenizer.encode(text, false)} of it gives
     * {@link #encode}'s ids only when no message holds a special-token string: use {@link #encode}.
     */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        StringBuilder text = new StringBuilder();
        for (Segment segment : segments(checked(messages), addGenerationPrompt, null)) {
            text.append(segment.text());
        }
        return text.toString();
    }

    /**
     * The rendered prompt cut into what the template wrote and what came from messages, in order.
     * Implementations fold the system prompt where their format needs it.
     *
     * @param tools the tools for a template that renders them, else null (no {@code tools} variable)
     */
    abstract List<Segment> segments(List<Message> messages, boolean addGenerationPrompt, List<Tools.Tool> tools);

    /** A piece of the rendered prompt; {@code fromMessage} pieces are user text and never hold control tokens. */
    record Segment(String text, boolean fromMessage) {
        static Segment template(String text) {
            return new Segment(text, false);
        }

        static Segment message(String text) {
            return new Segment(text, true);
        }
    }

    private static List<Message> checked(List<Message> messages) {
        Objects.requireNonNull(messages, "messages");
        for (Message message : messages) {
            Objects.requireNonNull(message, "a message is null");
        }
        return List.copyOf(messages);
    }

    /**
     * Folds a leading system message into the first user message ({@code system + "\n\n" + user};
     * an empty system prompt is dropped). Other messages are returned as they are, so a system
     * message elsewhere still meets the template's own check.
     */
    static List<Message> foldSystemPrompt(List<Message> messages) {
        if (messages.isEmpty() || messages.get(0).role() != Role.SYSTEM) {
            return messages;
        }
        String system = messages.get(0).content();
        if (messages.size() < 2 || messages.get(1).role() != Role.USER) {
            throw new ChatTemplateException("a system prompt must be followed by a user message: this format has no"
                    + " system role, so the system prompt is folded into the first user message");
        }
        List<Message> folded = new ArrayList<>(messages.size() - 1);
        String user = messages.get(1).content();
        folded.add(Message.user(system.isEmpty() ? user : system + SYSTEM_SEPARATOR + user));
        folded.addAll(messages.subList(2, messages.size()));
        return folded;
    }

    /**
     * Ids of the segments. Control tokens come only from template text. The text between two
     * control tokens (template text and message text together) is encoded in one call, in which
     * special-token strings are plain text: one call per run is what transformers does too (it
     * splits the prompt at special tokens and encodes each run, prepending "▁" to each), so
     * boundaries and merges come out as in {@code apply_chat_template}.
     */
    final int[] encodeSegments(List<Segment> segments) {
        IdBuffer ids = new IdBuffer();
        StringBuilder run = new StringBuilder();
        for (Segment segment : segments) {
            if (segment.fromMessage()) {
                run.append(segment.text());
                continue;
            }
            String text = segment.text();
            int start = 0;
            int i = 0;
            while (i < text.length()) {
                SpecialToken special = specialAt(text, i);
                if (special == null) {
                    i++;
                    continue;
                }
                run.append(text, start, i);
                flush(run, ids);
                ids.add(special.id());
                i += special.text().length();
                start = i;
            }
            run.append(text, start, text.length());
        }
        flush(run, ids);
        return ids.toArray();
    }

    private void flush(StringBuilder run, IdBuffer ids) {
        if (run.length() > 0) {
            ids.addAll(tokenizer.encodeLiteral(run.toString(), false));
            run.setLength(0);
        }
    }

    private SpecialToken specialAt(String text, int index) {
        for (SpecialToken special : specialTokens) {
            if (text.startsWith(special.text(), index)) {
                return special;
            }
        }
        return null;
    }

    private record SpecialToken(String text, int id) {}

    private static List<SpecialToken> specialTokens(Tokenizer tokenizer) {
        List<SpecialToken> found = new ArrayList<>();
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            boolean special;
            try {
                special = tokenizer.isSpecial(id);
            } catch (IllegalArgumentException gapInVocabulary) {
                continue; // an id no piece has: nothing to find in text
            }
            if (special) {
                found.add(new SpecialToken(tokenizer.idToPiece(id), id));
            }
        }
        found.sort(
                Comparator.comparingInt((SpecialToken t) -> t.text().length()).reversed());
        return List.copyOf(found);
    }

    /** A growable int array: prompts are built from many short encodes. */
    private static final class IdBuffer {
        private int[] ids = new int[64];
        private int size;

        void add(int id) {
            if (size == ids.length) {
                ids = Arrays.copyOf(ids, size * 2);
            }
            ids[size++] = id;
        }

        void addAll(int[] more) {
            for (int id : more) {
                add(id);
            }
        }

        int[] toArray() {
            return Arrays.copyOf(ids, size);
        }
    }
}
