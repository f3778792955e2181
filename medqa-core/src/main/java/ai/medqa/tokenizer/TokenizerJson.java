package ai.medqa.tokenizer;

import ai.medqa.common.Json;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What MedQA reads from {@code tokenizer.json} itself (the id/piece table, which ids are special,
 * which are byte-fallback tokens) and the two JSON variants handed to the native library.
 */
final class TokenizerJson {
    private static final ObjectMapper JSON = Json.MAPPER;
    private static final Pattern BYTE_PIECE = Pattern.compile("<0x[0-9A-Fa-f]{2}>");

    final Path file;
    /** id -> piece; null where no piece has that id. */
    final String[] pieces;

    final Map<String, Integer> idsByPiece;
    /** Added tokens marked {@code special}: skipped by decode(ids, true), never produced by encodeLiteral. */
    final BitSet special;
    /** {@code <0xXX>} tokens of a BPE model with byte_fallback: several may make up one character. */
    final BitSet byteTokens;

    private final ObjectNode root;

    private TokenizerJson(Path file, ObjectNode root) {
        this.file = file;
        this.root = root;
        JsonNode model = root.get("model");
        if (model == null || !model.isObject()) {
            throw invalid("no \"model\" object");
        }
        JsonNode vocab = model.get("vocab");
        Map<String, Integer> ids = new HashMap<>();
        if (vocab != null && vocab.isObject()) {
            // BPE and WordPiece: {"piece": id, ...}
            for (Map.Entry<String, JsonNode> e : vocab.properties()) {
                if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                    throw invalid("model.vocab[\"" + e.getKey() + "\"] is not a non-negative integer id");
                }
                ids.put(e.getKey(), e.getValue().asInt());
            }
        } else if (vocab != null && vocab.isArray()) {
            // Unigram: [["piece", score], ...], the id is the position.
            for (int i = 0; i < vocab.size(); i++) {
                ids.put(vocab.get(i).path(0).asText(), i);
            }
        } else {
            throw invalid("model.vocab is missing (expected an object or an array)");
        }
        special = new BitSet();
        JsonNode added = root.path("added_tokens");
        for (JsonNode token : added) {
            JsonNode id = token.get("id");
            JsonNode content = token.get("content");
            if (id == null || !id.canConvertToInt() || content == null || !content.isTextual()) {
                throw invalid("an added_tokens entry lacks an integer \"id\" or a \"content\" string: " + token);
            }
            ids.put(content.asText(), id.asInt());
            if (token.path("special").asBoolean(false)) {
                special.set(id.asInt());
            }
        }
        if (ids.isEmpty()) {
            throw invalid("model.vocab is empty");
        }
        int size = ids.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        pieces = new String[size];
        ids.forEach((piece, id) -> pieces[id] = piece);
        idsByPiece = Map.copyOf(ids);
        byteTokens = new BitSet();
        if (model.path("byte_fallback").asBoolean(false)) {
            for (int id = 0; id < size; id++) {
                if (pieces[id] != null
                        && !special.get(id)
                        && BYTE_PIECE.matcher(pieces[id]).matches()) {
                    byteTokens.set(id);
                }
            }
        }
    }

    static TokenizerJson read(Path file) {
        return new TokenizerJson(
                file,
                Json.readObject(
                        file,
                        "file not found (a Hugging Face tokenizer folder holds tokenizer.json)",
                        TokenizerException::new));
    }

    /**
     * Sets {@code prepend_scheme} of every Metaspace pre-tokenizer, as transformers does when it
     * loads a legacy Llama tokenizer. Returns whether a Metaspace pre-tokenizer was found.
     */
    boolean setMetaspacePrependScheme(String scheme) {
        return setPrependScheme(root.get("pre_tokenizer"), scheme);
    }

    private static boolean setPrependScheme(JsonNode node, String scheme) {
        if (node == null || !node.isObject()) {
            return false;
        }
        String type = node.path("type").asText();
        if ("Metaspace".equals(type)) {
            ObjectNode metaspace = (ObjectNode) node;
            metaspace.put("prepend_scheme", scheme);
            // Old layouts carry add_prefix_space instead; prepend_scheme is what the library reads now.
            metaspace.remove("add_prefix_space");
            return true;
        }
        boolean found = false;
        if ("Sequence".equals(type)) {
            for (JsonNode child : node.path("pretokenizers")) {
                found |= setPrependScheme(child, scheme);
            }
        }
        return found;
    }

    /** The definition as it stands (after any rewrite): special tokens in text become control ids. */
    String json() {
        return write(root);
    }

    /**
     * The same definition without the special added tokens, so that {@code <s>} typed in text is
     * split by the model like any other text. Non-special added tokens stay (they are vocabulary).
     */
    String jsonWithoutSpecialTokens() {
        ObjectNode copy = root.deepCopy();
        ArrayNode kept = JSON.createArrayNode();
        for (JsonNode token : copy.path("added_tokens")) {
            if (!token.path("special").asBoolean(false)) {
                kept.add(token);
            }
        }
        copy.set("added_tokens", kept);
        return write(copy);
    }

    private String write(JsonNode node) {
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new TokenizerException(file + ": cannot re-serialise: " + e.getOriginalMessage(), e);
        }
    }

    private TokenizerException invalid(String what) {
        return new TokenizerException(file + ": " + what);
    }
}
