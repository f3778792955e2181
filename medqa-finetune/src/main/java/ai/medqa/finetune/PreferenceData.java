package ai.medqa.finetune;

import ai.medqa.chat.ChatTemplate;
import ai.medqa.chat.ChatTemplateException;
import ai.medqa.chat.Message;
import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * DPO training data: TRL's conversational preference format, one JSON object a line, as
 * {@code medqa feedback export --format dpo} writes it: {@code prompt} (the messages before the
 * answer), {@code chosen} and {@code rejected} (each a one-message assistant list, or a string).
 * Token ids are made as TRL makes them: the prompt through the model's chat template (with the
 * generation prompt), each completion as what {@code prompt + answer} adds to it; MedQA's template
 * folds a system message into the first user turn, as it does when serving, so the model learns on the
 * prompts it answers.
 */
final class PreferenceData {
    private PreferenceData() {}

    /** One pair as text. */
    record Text(String id, List<Message> prompt, String chosen, String rejected) {}

    /** One KTO example as text. */
    record LabeledText(String id, List<Message> prompt, String completion, boolean desirable) {}

    /**
     * The pairs of {@code file}.
     *
     * @throws IllegalArgumentException naming the file, line and field of a malformed line (a missing
     *     {@code rejected} included), or when the file holds none
     */
    static List<Text> load(Path file) {
        List<Text> out = new ArrayList<>();
        Json.forEachLine(
                file,
                (message, cause) -> new IllegalArgumentException(message),
                (line, where, record) -> out.add(new Text(
                        where,
                        prompt(record, where, "dpo"),
                        answer(record, "chosen", where),
                        answer(record, "rejected", where))));
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + ": no preference pairs");
        }
        return out;
    }

    /**
     * KTO examples: {@code prompt}, {@code completion} and a boolean {@code label}, as
     * {@code medqa feedback export --format kto} writes them.
     */
    static List<LabeledText> loadLabeled(Path file) {
        List<LabeledText> out = new ArrayList<>();
        Json.forEachLine(file, (message, cause) -> new IllegalArgumentException(message), (line, where, record) -> {
            JsonNode label = record.get("label");
            if (label == null || !label.isBoolean()) {
                throw new IllegalArgumentException(where + ": label must be true (liked) or false (disliked)"
                        + (label == null ? "; the line has none" : ", got " + label));
            }
            out.add(new LabeledText(
                    where, prompt(record, where, "kto"), answer(record, "completion", where), label.asBoolean()));
        });
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + ": no examples");
        }
        return out;
    }

    private static List<Message> prompt(ObjectNode record, String where, String format) {
        JsonNode prompt = record.get("prompt");
        if (prompt == null || !prompt.isArray() || prompt.isEmpty()) {
            throw new IllegalArgumentException(where + ": prompt must be the list of messages before the answer "
                    + "(TRL's conversational form, as medqa feedback export --format " + format + " writes it)");
        }
        List<Message> messages = new ArrayList<>();
        for (int i = 0; i < prompt.size(); i++) {
            JsonNode m = prompt.get(i);
            String role = m.path("role").asText("");
            if (!m.path("content").isTextual()
                    || !(role.equals("system") || role.equals("user") || role.equals("assistant"))) {
                throw new IllegalArgumentException(
                        where + ": prompt[" + i + "] must be {role: system|user|assistant, " + "content: string}");
            }
            messages.add(
                    role.equals("system")
                            ? Message.system(m.get("content").asText())
                            : role.equals("user")
                                    ? Message.user(m.get("content").asText())
                                    : Message.assistant(m.get("content").asText()));
        }
        return messages;
    }

    private static String answer(ObjectNode record, String field, String where) {
        JsonNode a = record.get(field);
        if (a == null) {
            throw new IllegalArgumentException(
                    where + ": no field '" + field + "' (a DPO pair needs prompt, chosen and " + "rejected)");
        }
        if (a.isTextual()) {
            return a.asText();
        }
        if (a.isArray()
                && a.size() == 1
                && "assistant".equals(a.get(0).path("role").asText())
                && a.get(0).path("content").isTextual()) {
            return a.get(0).get("content").asText();
        }
        throw new IllegalArgumentException(
                where + ": " + field + " must be [{role: assistant, content: string}] or a string");
    }

    /**
     * The pairs as token ids: each sequence cut to {@code maxLength} from its start (TRL's
     * {@code keep_start}), pairs whose prompt alone fills it left out.
     */
    static List<PreferenceLoss.Pair> tokenize(
            List<Text> pairs, ChatTemplate template, int maxLength, List<String> dropped) {
        List<PreferenceLoss.Pair> out = new ArrayList<>();
        for (Text t : pairs) {
            int[] prompt;
            int[] chosen;
            int[] rejected;
            try {
                prompt = template.encode(t.prompt(), true);
                chosen = completion(template, t.prompt(), prompt, t.chosen());
                rejected = completion(template, t.prompt(), prompt, t.rejected());
            } catch (ChatTemplateException e) {
                throw new IllegalArgumentException(
                        t.id() + ": the chat template refuses the prompt: " + e.getMessage(), e);
            }
            if (prompt.length >= maxLength) {
                dropped.add(t.id());
                continue;
            }
            int room = maxLength - prompt.length;
            out.add(new PreferenceLoss.Pair(
                    prompt,
                    Arrays.copyOf(chosen, Math.min(room, chosen.length)),
                    Arrays.copyOf(rejected, Math.min(room, rejected.length))));
        }
        return out;
    }

    /** KTO examples as token ids, cut as {@link #tokenize} cuts pairs. */
    static List<PreferenceLoss.Labeled> tokenizeLabeled(
            List<LabeledText> examples, ChatTemplate template, int maxLength, List<String> dropped) {
        List<PreferenceLoss.Labeled> out = new ArrayList<>();
        for (LabeledText t : examples) {
            int[] prompt;
            int[] completion;
            try {
                prompt = template.encode(t.prompt(), true);
                completion = completion(template, t.prompt(), prompt, t.completion());
            } catch (ChatTemplateException e) {
                throw new IllegalArgumentException(
                        t.id() + ": the chat template refuses the prompt: " + e.getMessage(), e);
            }
            if (prompt.length >= maxLength) {
                dropped.add(t.id());
                continue;
            }
            out.add(new PreferenceLoss.Labeled(
                    prompt,
                    Arrays.copyOf(completion, Math.min(maxLength - prompt.length, completion.length)),
                    t.desirable()));
        }
        return out;
    }

    /** What {@code prompt + answer} adds to the prompt's ids (TRL's completion ids). */
    private static int[] completion(ChatTemplate template, List<Message> messages, int[] prompt, String answer) {
        List<Message> all = new ArrayList<>(messages);
        all.add(Message.assistant(answer));
        int[] full = template.encode(all, false);
        if (full.length <= prompt.length || !Arrays.equals(Arrays.copyOf(full, prompt.length), prompt)) {
            throw new ChatTemplateException("the prompt's tokens are not a prefix of the prompt with its answer");
        }
        return Arrays.copyOfRange(full, prompt.length, full.length);
    }
}
