package ai.medqa.chat;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The synthetic Mistral v0.3 tokenizer the tool-template tests share (no v0.3 tokenizer is stored
 * here): Mistral v0.1's tokenizer.json with v0.3's control tokens added as special tokens and v0.3's
 * chat template, built as {@code tools/make_tool_template_golden.py} builds it for transformers'
 * goldens ({@code tokenizer/mistral-v0.3-tools/golden.json}). Other modules' tests reach it through
 * medqa-core's test jar.
 */
public final class SyntheticV03 {
    private SyntheticV03() {}

    /** The goldens: the control tokens, the first id they take, the template, the cases. */
    public static JsonNode golden() {
        return read("/tokenizer/mistral-v0.3-tools/golden.json");
    }

    /** Writes {@code tokenizer.json} and {@code tokenizer_config.json} into {@code dir}; returns the vocabulary size. */
    public static int write(Path dir) {
        JsonNode golden = golden();
        ObjectNode json = (ObjectNode) read("/tokenizer/mistral-7b-v0.1/tokenizer.json");
        ArrayNode added = (ArrayNode) json.get("added_tokens");
        int id = golden.get("first_id").asInt();
        for (JsonNode t : golden.get("tool_tokens")) {
            added.addObject()
                    .put("id", id++)
                    .put("content", t.asText())
                    .put("single_word", false)
                    .put("lstrip", false)
                    .put("rstrip", false)
                    .put("normalized", false)
                    .put("special", true);
        }
        ObjectNode config = Json.MAPPER
                .createObjectNode()
                .put("bos_token", "<s>")
                .put("eos_token", "</s>")
                .put("unk_token", "<unk>")
                .put("add_bos_token", true)
                .put("add_eos_token", false)
                .put("legacy", true)
                .put("tokenizer_class", "LlamaTokenizer")
                .put("chat_template", golden.get("chat_template").asText());
        config.set("additional_special_tokens", golden.get("tool_tokens"));
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("tokenizer.json"), Json.MAPPER.writeValueAsString(json));
            Files.writeString(dir.resolve("tokenizer_config.json"), Json.MAPPER.writeValueAsString(config));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return id;
    }

    /** A golden case's messages as MedQA's. */
    public static List<Message> messages(JsonNode list) {
        List<Message> out = new ArrayList<>();
        for (JsonNode m : list) {
            String role = m.get("role").asText();
            if (m.has("tool_calls")) {
                List<Tools.Call> calls = new ArrayList<>();
                for (JsonNode c : m.get("tool_calls")) {
                    calls.add(new Tools.Call(
                            c.get("id").asText(), c.at("/function/name").asText(), c.at("/function/arguments")));
                }
                out.add(Message.toolCalls(calls));
            } else if (role.equals("tool")) {
                out.add(Message.toolResult(
                        m.get("tool_call_id").asText(), m.get("content").asText()));
            } else {
                out.add(new Message(
                        Message.Role.fromJsonName(role), m.get("content").asText()));
            }
        }
        return out;
    }

    /** A golden case's tools as MedQA's. */
    public static List<Tools.Tool> tools(JsonNode list) {
        List<Tools.Tool> out = new ArrayList<>();
        for (JsonNode t : list) {
            JsonNode f = t.get("function");
            out.add(new Tools.Tool(f.get("name").asText(), f.get("description").asText(), f.get("parameters")));
        }
        return out;
    }

    private static JsonNode read(String resource) {
        try (InputStream in = SyntheticV03.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + resource);
            }
            return Json.MAPPER.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
