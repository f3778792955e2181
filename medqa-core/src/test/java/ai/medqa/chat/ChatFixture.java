package ai.medqa.chat;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The Mistral-7B-Instruct-v0.1 tokenizer folder (base tokenizer.json + Instruct tokenizer_config.json
 * with its chat template, the pair the goldens were made with) and the chat golden rows.
 */
final class ChatFixture {
    private static final ObjectMapper JSON = Json.MAPPER;

    /** A row of golden/chat_template.jsonl (transformers) or golden/chat_literal.jsonl (sentencepiece runs). */
    record Row(
            String name,
            List<Message> messages,
            boolean addGenerationPrompt,
            String text,
            int[] ids,
            String error,
            int[] transformersIds) {
        @Override
        public String toString() {
            return name + (addGenerationPrompt ? " (add_generation_prompt)" : "");
        }
    }

    private ChatFixture() {}

    /** {@code dir} with tokenizer.json and, if {@code withTemplate}, the Instruct tokenizer_config.json. */
    static Path tokenizerFolder(Path dir, boolean withTemplate) {
        copy("/tokenizer/mistral-7b-v0.1/tokenizer.json", dir.resolve("tokenizer.json"));
        if (withTemplate) {
            copy("/tokenizer/mistral-7b-instruct-v0.1/tokenizer_config.json", dir.resolve("tokenizer_config.json"));
        }
        return dir;
    }

    /** The v0.1 chat template source, as in tokenizer_config.json. */
    static String instructV01Template() {
        return json(text("/tokenizer/mistral-7b-instruct-v0.1/tokenizer_config.json"))
                .get("chat_template")
                .asText();
    }

    /** The 7 rows of transformers' apply_chat_template with the v0.1 template. */
    static List<Row> transformersRows() {
        List<Row> rows = new ArrayList<>();
        for (JsonNode n : jsonl("/golden/chat_template.jsonl")) {
            rows.add(new Row(
                    n.get("name").asText(),
                    messages(n.get("messages")),
                    n.get("add_generation_prompt").asBoolean(),
                    n.get("text").isNull() ? null : n.get("text").asText(),
                    ints(n.get("ids")),
                    n.has("error") ? n.get("error").asText() : null,
                    null));
        }
        return rows;
    }

    /** The 12 rows of tools/make_chat_literal_golden.py: user text encoded as text, by sentencepiece. */
    static List<Row> literalRows() {
        List<Row> rows = new ArrayList<>();
        for (JsonNode n : jsonl("/golden/chat_literal.jsonl")) {
            rows.add(new Row(
                    n.get("name").asText(),
                    messages(n.get("messages")),
                    true,
                    null,
                    ints(n.get("ids")),
                    null,
                    ints(n.get("transformers_ids"))));
        }
        return rows;
    }

    /** Sentencepiece ids (with BOS) of a string of golden/mistral_tokenizer.jsonl. */
    static int[] sentencepieceIds(String text) {
        for (JsonNode n : jsonl("/golden/mistral_tokenizer.jsonl")) {
            if (n.get("text").asText().equals(text)) {
                return ints(n.get("ids"));
            }
        }
        throw new IllegalArgumentException("no sentencepiece golden row for " + text);
    }

    private static List<Message> messages(JsonNode array) {
        List<Message> messages = new ArrayList<>();
        for (JsonNode m : array) {
            messages.add(new Message(
                    Message.Role.fromJsonName(m.get("role").asText()),
                    m.get("content").asText()));
        }
        return messages;
    }

    private static int[] ints(JsonNode array) {
        if (array == null || array.isNull()) {
            return null;
        }
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    private static List<JsonNode> jsonl(String resource) {
        List<JsonNode> nodes = new ArrayList<>();
        for (String line : text(resource).split("\n")) {
            if (!line.isBlank()) {
                nodes.add(json(line));
            }
        }
        return nodes;
    }

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String text(String resource) {
        try (InputStream in = ChatFixture.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + resource);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void copy(String resource, Path target) {
        try (InputStream in = ChatFixture.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + resource);
            }
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
