package ai.medqa.finetune;

import ai.medqa.common.AtomicFiles;
import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The votes file of {@code medqa serve --feedback} as training data, in TRL's dataset formats (the
 * conversational form: messages as role/content lists):
 * <ul>
 *   <li>{@link Format#KTO}: {@code {"prompt": [...], "completion": [{"role": "assistant", ...}], "label": bool}}
 *       from likes (true) and dislikes (false);
 *   <li>{@link Format#DPO}: {@code {"prompt": [...], "chosen": [...], "rejected": [...]}} from the pairs
 *       a user picked between;
 *   <li>{@link Format#SFT}: {@code {"messages": [..., the liked answer]}} from likes.
 * </ul>
 * The last vote on a completion wins, and the last pick between two completions. An answer the user
 * stopped (or still streaming when voted on) is dropped: it is not what the model would answer; so is
 * one cut at {@code max_tokens} unless asked to keep it (the chat template ends a training answer with
 * EOS, so a cut answer would teach the model to stop there). All examples must come from one model or
 * adapter (votes on the base model do not train an adapter's successor by accident): with several,
 * the export is refused naming them unless one is chosen.
 */
public final class FeedbackExport {

    /** TRL's trainer whose dataset format is written. */
    public enum Format {
        KTO,
        DPO,
        SFT;

        /** {@code kto}, {@code dpo} or {@code sft}. */
        public static Format parse(String name) {
            try {
                return valueOf(name.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown export format \"" + name + "\"; expected kto, dpo or sft");
            }
        }
    }

    /** What was written: examples per model, and the records dropped, by reason. */
    public record Summary(int examples, String model, Map<String, Integer> dropped) {}

    private FeedbackExport() {}

    /**
     * Reads {@code votes}, writes {@code out} (atomically: a failed export leaves no file), and says
     * what it kept and dropped. {@code model}: the model or adapter whose answers to keep, or null
     * when the votes name only one.
     *
     * @throws IllegalArgumentException naming the file and line of a malformed record, the models to
     *     choose from, or why nothing is left to export
     */
    public static Summary export(Path votes, Format format, String model, Path out) {
        return export(votes, format, model, out, false);
    }

    /** As {@link #export(Path, Format, String, Path)}; {@code keepTruncated}: also answers cut at {@code max_tokens}. */
    public static Summary export(Path votes, Format format, String model, Path out, boolean keepTruncated) {
        Map<String, ObjectNode> lastVote = new LinkedHashMap<>(); // completion id -> vote line, last wins
        Map<String, ObjectNode> lastPair = new LinkedHashMap<>(); // the two completion ids -> pair line, last wins
        Map<String, Integer> dropped = new TreeMap<>();
        Json.forEachLine(votes, (message, cause) -> new IllegalArgumentException(message), (line, where, record) -> {
            String type = record.path("type").asText("");
            switch (type) {
                case "vote" -> {
                    String vote = record.path("vote").asText("");
                    if (!vote.equals("like") && !vote.equals("dislike")) {
                        throw new IllegalArgumentException(
                                where + ": vote must be like or dislike, got " + record.get("vote"));
                    }
                    String id = check(record.get("completion"), where + ": completion")
                            .get("id")
                            .asText();
                    lastVote.remove(id); // re-insert: the order of last votes
                    lastVote.put(id, record);
                }
                case "pair" -> {
                    String a = check(record.get("chosen"), where + ": chosen")
                            .get("id")
                            .asText();
                    String b = check(record.get("rejected"), where + ": rejected")
                            .get("id")
                            .asText();
                    String key = a.compareTo(b) < 0 ? a + "\n" + b : b + "\n" + a;
                    lastPair.remove(key);
                    lastPair.put(key, record);
                }
                default -> {
                    if (record.has("vote") && record.has("answer")) {
                        dropped.merge("old-format vote without its completion record", 1, Integer::sum);
                    } else {
                        throw new IllegalArgumentException(
                                where + ": type must be vote or pair, got " + record.get("type"));
                    }
                }
            }
        });
        List<ObjectNode> pairs = new ArrayList<>(lastPair.values());
        List<ObjectNode> examples = new ArrayList<>();
        Map<String, Integer> byModel = new TreeMap<>();
        if (format == Format.DPO) {
            dropped.merge("votes (a DPO export takes pairs)", lastVote.size(), Integer::sum);
            for (ObjectNode pair : pairs) {
                ObjectNode chosen = (ObjectNode) pair.get("chosen");
                ObjectNode rejected = (ObjectNode) pair.get("rejected");
                String why = unusable(chosen, keepTruncated) != null
                        ? unusable(chosen, keepTruncated)
                        : unusable(rejected, keepTruncated);
                if (why != null) {
                    dropped.merge(why, 1, Integer::sum);
                } else if (!modelOf(chosen).equals(modelOf(rejected))) {
                    dropped.merge("pairs of answers from two models", 1, Integer::sum);
                } else {
                    byModel.merge(modelOf(chosen), 1, Integer::sum);
                    examples.add(pair);
                }
            }
        } else {
            dropped.merge(
                    "pairs (" + format.name().toLowerCase(Locale.ROOT) + " takes votes)", pairs.size(), Integer::sum);
            for (ObjectNode vote : lastVote.values()) {
                ObjectNode c = (ObjectNode) vote.get("completion");
                String why = unusable(c, keepTruncated);
                if (why == null
                        && format == Format.SFT
                        && vote.get("vote").asText().equals("dislike")) {
                    why = "dislikes (sft keeps liked answers)";
                }
                if (why != null) {
                    dropped.merge(why, 1, Integer::sum);
                } else {
                    byModel.merge(modelOf(c), 1, Integer::sum);
                    examples.add(vote);
                }
            }
        }
        dropped.values().removeIf(n -> n == 0);
        String chosenModel = model;
        if (chosenModel == null && byModel.size() > 1) {
            throw new IllegalArgumentException(
                    votes + " holds feedback on several models " + byModel + ": export one at a time (--model NAME)");
        }
        if (chosenModel == null) {
            chosenModel = byModel.isEmpty() ? null : byModel.keySet().iterator().next();
        }
        StringBuilder text = new StringBuilder();
        int n = 0;
        for (ObjectNode e : examples) {
            ObjectNode c = (ObjectNode) (format == Format.DPO ? e.get("chosen") : e.get("completion"));
            if (!modelOf(c).equals(chosenModel)) {
                dropped.merge("other models than " + chosenModel, 1, Integer::sum);
                continue;
            }
            text.append(Json.MAPPER.valueToTree(example(format, e)).toString()).append('\n');
            n++;
        }
        if (n == 0) {
            throw new IllegalArgumentException(
                    "nothing to export from " + votes + " as " + format.name().toLowerCase(Locale.ROOT)
                            + (dropped.isEmpty() ? " (it holds no feedback)" : "; dropped: " + dropped) + "; " + out
                            + " not written");
        }
        byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(out, o -> o.write(bytes));
        return new Summary(n, chosenModel, dropped);
    }

    private static ObjectNode example(Format format, ObjectNode e) {
        ObjectNode x = Json.MAPPER.createObjectNode();
        switch (format) {
            case KTO -> {
                ObjectNode c = (ObjectNode) e.get("completion");
                x.set("prompt", c.get("messages").deepCopy());
                x.set("completion", answer(c));
                x.put("label", e.get("vote").asText().equals("like"));
            }
            case DPO -> {
                x.set("prompt", e.get("chosen").get("messages").deepCopy());
                x.set("chosen", answer((ObjectNode) e.get("chosen")));
                x.set("rejected", answer((ObjectNode) e.get("rejected")));
            }
            case SFT -> {
                ObjectNode c = (ObjectNode) e.get("completion");
                ArrayNode messages = c.get("messages").deepCopy();
                messages.addObject()
                        .put("role", "assistant")
                        .put("content", c.get("completion").asText());
                x.set("messages", messages);
            }
        }
        return x;
    }

    private static ArrayNode answer(ObjectNode completion) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        a.addObject()
                .put("role", "assistant")
                .put("content", completion.get("completion").asText());
        return a;
    }

    /** Why a completion cannot be a training example, or null. */
    private static String unusable(ObjectNode c, boolean keepTruncated) {
        String finish = c.path("finish_reason").asText("");
        if (finish.equals("cancelled") || finish.equals("in_progress") || finish.equals("error")) {
            return "answers stopped before their end";
        }
        if (finish.equals("length") && !keepTruncated) {
            return "answers cut at max_tokens (keep them with --keep-truncated)";
        }
        if (!c.has("messages")) {
            return "plain completions (no chat messages)";
        }
        return null;
    }

    private static String modelOf(ObjectNode c) {
        return c.path("model").asText("");
    }

    private static ObjectNode check(JsonNode completion, String where) {
        if (!(completion instanceof ObjectNode c)
                || !c.path("id").isTextual()
                || !c.path("completion").isTextual()) {
            throw new IllegalArgumentException(
                    where + " must be a completion record (id, completion, messages or prompt)");
        }
        if (c.has("messages") && !c.get("messages").isArray()) {
            throw new IllegalArgumentException(where + ".messages must be an array of {role, content}");
        }
        return c;
    }
}
