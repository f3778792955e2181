package ai.medqa.tokenizer;

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
 * The real Mistral tokenizer folder as a user downloads it from Hugging Face (base tokenizer.json +
 * the Instruct tokenizer_config.json, the pair transformers was run on for the golden ids), and the
 * golden rows from sentencepiece and transformers.
 */
final class MistralTokenizerFixture {
    static final String TOKENIZER_JSON = "/tokenizer/mistral-7b-v0.1/tokenizer.json";
    static final String TOKENIZER_CONFIG = "/tokenizer/mistral-7b-instruct-v0.1/tokenizer_config.json";
    private static final ObjectMapper JSON = Json.MAPPER;

    /** One line of a golden file. {@code hfIds} is null for rows transformers was not run on. */
    record Row(String kind, String text, int[] spIds, int[] hfIds) {
        @Override
        public String toString() {
            return kind + " " + JsonText.quote(text);
        }
    }

    private MistralTokenizerFixture() {}

    /** Copies the tokenizer files into {@code dir}; {@code withConfig=false} leaves tokenizer_config.json out. */
    static Path folder(Path dir, boolean withConfig) {
        copy(TOKENIZER_JSON, dir.resolve("tokenizer.json"));
        if (withConfig) {
            copy(TOKENIZER_CONFIG, dir.resolve("tokenizer_config.json"));
        }
        return dir;
    }

    static void copy(String resource, Path target) {
        try (InputStream in = MistralTokenizerFixture.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + resource);
            }
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String resourceText(String resource) {
        try (InputStream in = MistralTokenizerFixture.class.getResourceAsStream(resource)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** All 1,043 lines of golden/mistral_tokenizer.jsonl (sentencepiece, add_bos=True). */
    static List<Row> sentencepieceRows() {
        List<Row> rows = new ArrayList<>();
        for (JsonNode n : jsonl("/golden/mistral_tokenizer.jsonl")) {
            rows.add(new Row(n.get("kind").asText(), n.get("text").asText(), ints(n.get("ids")), null));
        }
        return rows;
    }

    /** All 143 lines of golden/tokenizer_hf.jsonl (transformers 5.18, add_special_tokens=True). */
    static List<Row> transformersRows() {
        List<Row> rows = new ArrayList<>();
        for (JsonNode n : jsonl("/golden/tokenizer_hf.jsonl")) {
            rows.add(new Row(
                    n.get("kind").asText(),
                    n.get("text").asText(),
                    ints(n.get("ids_sentencepiece")),
                    ints(n.get("ids_hf"))));
        }
        return rows;
    }

    private static List<JsonNode> jsonl(String resource) {
        List<JsonNode> nodes = new ArrayList<>();
        try {
            for (String line : resourceText(resource).split("\n")) {
                if (!line.isBlank()) {
                    nodes.add(JSON.readTree(line));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return nodes;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    /** Readable test names for strings full of spaces and control characters. */
    static final class JsonText {
        static String quote(String s) {
            try {
                String q = JSON.writeValueAsString(s);
                return q.length() > 60 ? q.substring(0, 57) + "...\"" : q;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
