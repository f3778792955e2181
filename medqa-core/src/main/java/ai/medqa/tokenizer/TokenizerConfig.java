package ai.medqa.tokenizer;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The fields of {@code tokenizer_config.json} that change ids or that the chat layer needs. Where
 * the file or a field is absent, the defaults are those of transformers' {@code LlamaTokenizer}
 * (add BOS, no EOS, {@code <s>}/{@code </s>}/{@code <unk>}, legacy).
 */
record TokenizerConfig(
        boolean addBosToken,
        boolean addEosToken,
        String bosToken,
        String eosToken,
        String unkToken,
        boolean legacy,
        String tokenizerClass,
        String chatTemplate) {

    static TokenizerConfig defaults() {
        return new TokenizerConfig(true, false, "<s>", "</s>", "<unk>", true, null, null);
    }

    /** Reads {@code file} if it exists; {@code chat_template.jinja} beside it wins over the JSON field, as in transformers. */
    static TokenizerConfig read(Path file, Path chatTemplateFile) {
        TokenizerConfig config = defaults();
        if (Files.exists(file)) {
            config = parse(file);
        }
        if (Files.exists(chatTemplateFile)) {
            try {
                String template = Files.readString(chatTemplateFile, StandardCharsets.UTF_8);
                config = new TokenizerConfig(
                        config.addBosToken,
                        config.addEosToken,
                        config.bosToken,
                        config.eosToken,
                        config.unkToken,
                        config.legacy,
                        config.tokenizerClass,
                        template);
            } catch (IOException e) {
                throw new TokenizerException(chatTemplateFile + ": cannot read: " + e, e);
            }
        }
        return config;
    }

    private static TokenizerConfig parse(Path file) {
        JsonNode root = Json.readObject(file, null, TokenizerException::new);
        TokenizerConfig d = defaults();
        return new TokenizerConfig(
                bool(file, root, "add_bos_token", d.addBosToken),
                bool(file, root, "add_eos_token", d.addEosToken),
                token(file, root, "bos_token", d.bosToken),
                token(file, root, "eos_token", d.eosToken),
                token(file, root, "unk_token", d.unkToken),
                bool(file, root, "legacy", d.legacy),
                root.hasNonNull("tokenizer_class") ? root.get("tokenizer_class").asText() : null,
                chatTemplate(file, root.get("chat_template")));
    }

    private static boolean bool(Path file, JsonNode root, String field, boolean fallback) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isBoolean()) {
            throw new TokenizerException(file + ": field " + field + " must be true or false, found " + node);
        }
        return node.asBoolean();
    }

    /** A special token is either a string or, in older files, an AddedToken object with "content". */
    private static String token(Path file, JsonNode root, String field, String fallback) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isObject() && node.path("content").isTextual()) {
            return node.get("content").asText();
        }
        throw new TokenizerException(
                file + ": field " + field + " must be a string or {\"content\": ...}, found " + node);
    }

    /** A string, or a list of {"name", "template"} from which transformers uses "default". */
    private static String chatTemplate(Path file, JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isArray()) {
            for (JsonNode entry : node) {
                if ("default".equals(entry.path("name").asText())
                        && entry.path("template").isTextual()) {
                    return entry.get("template").asText();
                }
            }
        }
        throw new TokenizerException(file + ": field chat_template must be a string or a list holding a "
                + "{\"name\": \"default\", \"template\": ...} entry");
    }
}
