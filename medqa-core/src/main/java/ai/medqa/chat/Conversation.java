package ai.medqa.chat;

import ai.medqa.chat.Message.Role;
import ai.medqa.common.Json;
import ai.medqa.common.Staging;
import ai.medqa.model.ContextOverflowException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A multi-turn chat: an optional system prompt and the user/assistant turns, alternating and
 * starting with the user. It renders itself to prompt ids that fit a context budget by leaving out
 * the oldest exchanges (never the system prompt, never the latest user turn), and saves to and loads
 * from JSON:
 * <pre>
 * {"version": 1, "system": "You are ...", "turns": [{"role": "user", "content": "..."}, ...]}
 * </pre>
 * ({@code "system"} may be null or absent). Not thread-safe: one conversation belongs to one session.
 */
public final class Conversation {
    private static final Logger LOG = LoggerFactory.getLogger(Conversation.class);
    static final int FORMAT_VERSION = 1;

    private final String systemPrompt;
    private final List<Message> turns = new ArrayList<>();

    /** A conversation without a system prompt. */
    public Conversation() {
        this(null);
    }

    /** A conversation with {@code systemPrompt} (null for none). */
    public Conversation(String systemPrompt) {
        this.systemPrompt = systemPrompt;
    }

    public Optional<String> systemPrompt() {
        return Optional.ofNullable(systemPrompt);
    }

    /**
     * Adds what the user said.
     *
     * @throws IllegalStateException if the last turn is the user's too: the turns must alternate
     */
    public Conversation addUser(String content) {
        return add(Message.user(content));
    }

    /**
     * Takes back the last user turn (one that got no reply, for instance because it did not fit).
     *
     * @throws IllegalStateException if the last turn is not the user's
     */
    public Conversation removeLastUser() {
        if (turns.isEmpty() || turns.get(turns.size() - 1).role() != Message.Role.USER) {
            throw new IllegalStateException("the last turn is not the user's");
        }
        turns.remove(turns.size() - 1);
        return this;
    }

    /**
     * Adds the model's reply.
     *
     * @throws IllegalStateException if it does not follow a user turn
     */
    public Conversation addAssistant(String content) {
        return add(Message.assistant(content));
    }

    private Conversation add(Message message) {
        Role expected = nextRole();
        if (message.role() != expected) {
            throw new IllegalStateException(
                    "turns must alternate user/assistant starting with user: the next turn" + " must be "
                            + expected.jsonName() + ", not " + message.role().jsonName());
        }
        turns.add(message);
        return this;
    }

    private Role nextRole() {
        return turns.size() % 2 == 0 ? Role.USER : Role.ASSISTANT;
    }

    /** The system prompt (if any) followed by every turn: the input of {@link ChatTemplate#encode}. */
    public List<Message> messages() {
        return messagesFrom(0);
    }

    private List<Message> messagesFrom(int firstTurn) {
        List<Message> messages = new ArrayList<>(turns.size() - firstTurn + 1);
        if (systemPrompt != null) {
            messages.add(Message.system(systemPrompt));
        }
        messages.addAll(turns.subList(firstTurn, turns.size()));
        return List.copyOf(messages);
    }

    /**
     * The prompt ids of this conversation, with the generation prompt, in at most
     * {@code maxPromptTokens} ids. When the whole history does not fit, the oldest user/assistant
     * exchanges are left out (the conversation itself keeps them) until it does; the system prompt
     * and the last user turn (with anything after it) are always kept.
     *
     * @throws ContextOverflowException if the system prompt and the last user turn alone need more
     *     than {@code maxPromptTokens} ids; the message gives both sizes
     * @throws IllegalStateException if there is no user turn yet
     */
    public int[] toIds(ChatTemplate template, int maxPromptTokens) {
        Objects.requireNonNull(template, "template");
        if (maxPromptTokens <= 0) {
            throw new IllegalArgumentException("maxPromptTokens must be positive, got " + maxPromptTokens);
        }
        if (turns.isEmpty()) {
            throw new IllegalStateException("the conversation has no user turn yet");
        }
        int[] all = template.encode(messagesFrom(0));
        if (all.length <= maxPromptTokens) {
            return all;
        }
        // Exchanges start at even turn indices; the last user turn starts the last one.
        int lastStart = (turns.size() - 1) / 2 * 2;
        int[] minimal = template.encode(messagesFrom(lastStart));
        if (minimal.length > maxPromptTokens) {
            throw new ContextOverflowException(
                    "the message does not fit: the system prompt and the last user turn take "
                            + minimal.length + " tokens, and " + maxPromptTokens
                            + " are left for the prompt (the model's context "
                            + "less the new tokens asked for); shorten the message or ask for fewer new tokens");
        }
        // Binary search for the oldest exchange that can be kept: leaving out one more exchange removes
        // its ids and changes nothing else (the system prompt goes with whichever user turn is first),
        // so the length only shrinks. Every answer returned was checked to fit either way.
        int fitsFrom = lastStart;
        int[] best = minimal;
        int low = 1;
        int high = lastStart / 2 - 1;
        while (low <= high) {
            int mid = (low + high) >>> 1;
            int[] ids = template.encode(messagesFrom(2 * mid));
            if (ids.length <= maxPromptTokens) {
                fitsFrom = 2 * mid;
                best = ids;
                high = mid - 1;
            } else {
                low = mid + 1;
            }
        }
        LOG.debug(
                "conversation: left out the {} oldest of {} turns to fit {} tokens ({} -> {})",
                fitsFrom,
                turns.size(),
                maxPromptTokens,
                all.length,
                best.length);
        return best;
    }

    /**
     * Writes the conversation as JSON, atomically: to a temporary file in the same folder, flushed
     * to disk, then moved over {@code file}, so a crash never leaves a half-written conversation.
     *
     * @throws ConversationException naming the file when it cannot be written
     */
    public void save(Path file) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("version", FORMAT_VERSION);
        root.put("system", systemPrompt);
        ArrayNode array = root.putArray("turns");
        for (Message turn : turns) {
            array.addObject().put("role", turn.role().jsonName()).put("content", turn.content());
        }
        Path target = file.toAbsolutePath();
        Path temp = null;
        try {
            byte[] bytes = Json.PRETTY.writeValueAsBytes(root);
            temp = Staging.file(target);
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                channel.write(ByteBuffer.wrap(bytes));
                channel.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            temp = null;
        } catch (IOException e) {
            throw new ConversationException(file + ": cannot write the conversation: " + e, e);
        } finally {
            if (temp != null) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException e) {
                    LOG.warn("could not delete the temporary file {}: {}", temp, e.toString());
                }
            }
        }
    }

    /**
     * Reads a conversation written by {@link #save}.
     *
     * @throws ConversationException naming the file, and the field where there is one, when the file
     *     is missing, unreadable, not JSON, or not a conversation (unknown version, bad role, turns
     *     that do not alternate, missing content)
     */
    public static Conversation load(Path file) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            throw new ConversationException(file + ": no such file", e);
        } catch (JsonProcessingException e) {
            throw new ConversationException(
                    file + ": not valid JSON: " + e.getOriginalMessage()
                            + (e.getLocation() == null
                                    ? ""
                                    : " (line " + e.getLocation().getLineNr() + ", column "
                                            + e.getLocation().getColumnNr() + ")"),
                    e);
        } catch (IOException e) {
            throw new ConversationException(file + ": cannot read: " + e, e);
        }
        if (root == null || !root.isObject()) {
            throw new ConversationException(file + ": expected a JSON object with \"version\" and \"turns\"");
        }
        JsonNode version = root.get("version");
        if (version == null || !version.isInt() || version.intValue() != FORMAT_VERSION) {
            throw bad(file, "version", "expected " + FORMAT_VERSION, version);
        }
        JsonNode system = root.get("system");
        if (system != null && !system.isNull() && !system.isTextual()) {
            throw bad(file, "system", "expected a string or null", system);
        }
        Conversation conversation = new Conversation(system == null || system.isNull() ? null : system.textValue());
        JsonNode turns = root.get("turns");
        if (turns == null || !turns.isArray()) {
            throw bad(file, "turns", "expected an array of {\"role\", \"content\"}", turns);
        }
        for (int i = 0; i < turns.size(); i++) {
            String field = "turns[" + i + "]";
            JsonNode turn = turns.get(i);
            if (!turn.isObject()) {
                throw bad(file, field, "expected an object with \"role\" and \"content\"", turn);
            }
            JsonNode role = turn.get("role");
            JsonNode content = turn.get("content");
            String expected = conversation.nextRole().jsonName();
            if (role == null || !role.isTextual() || !role.textValue().equals(expected)) {
                throw bad(
                        file,
                        field + ".role",
                        "expected \"" + expected + "\" (turns alternate user/assistant, starting with user)",
                        role);
            }
            if (content == null || !content.isTextual()) {
                throw bad(file, field + ".content", "expected a string", content);
            }
            conversation.add(new Message(Role.fromJsonName(role.textValue()), content.textValue()));
        }
        return conversation;
    }

    private static ConversationException bad(Path file, String field, String expected, JsonNode found) {
        String was = found == null ? "missing" : "found " + abbreviate(found.toString());
        return new ConversationException(file + ": field " + field + ": " + expected + ", " + was);
    }

    private static String abbreviate(String json) {
        return json.length() <= 80 ? json : json.substring(0, 77) + "...";
    }

    /** Sizes only: conversations hold what patients and clinicians typed, which has no place in logs. */
    @Override
    public String toString() {
        return "Conversation[" + (systemPrompt == null ? "no system prompt" : "system prompt") + ", " + turns.size()
                + " turns]";
    }
}
