package ai.medqa.tokenizer;

import ai.medqa.common.Json;
import ai.medqa.io.CheckpointException;
import ai.medqa.io.GgufFile;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tokenizer a GGUF file carries ({@code tokenizer.ggml.*}, model {@code llama}: SentencePiece
 * pieces with scores) as the Hugging Face {@code tokenizer.json} and {@code tokenizer_config.json}
 * transformers builds from it: the vocabulary as the file spells it, BPE merges recovered from the
 * pieces and their scores (transformers' {@code generate_merges}, same order and tie-breaks), byte
 * fallback, control tokens as special tokens, BOS/EOS and the chat template from the file. Other
 * tokenizer models ({@code gpt2} byte-level BPE, ...) are refused by name.
 */
public final class GgufTokenizer {
    private GgufTokenizer() {}

    /** Loads the file's tokenizer (written to a temporary folder that is removed after). */
    public static Tokenizer load(GgufFile f) {
        Path dir;
        try {
            dir = Files.createTempDirectory("medqa-gguf-tokenizer");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            write(f, dir);
            return Tokenizer.load(dir);
        } finally {
            for (String name : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
                try {
                    Files.deleteIfExists(dir.resolve(name));
                } catch (IOException ignored) {
                    // a temporary file: the system cleans it
                }
            }
            try {
                Files.deleteIfExists(dir);
            } catch (IOException ignored) {
                // as above
            }
        }
    }

    /** Whether the file carries a tokenizer ({@code tokenizer.ggml.model}; {@link #load} says what else is missing). */
    public static boolean has(GgufFile f) {
        return f.has("tokenizer.ggml.model");
    }

    /** Writes {@code tokenizer.json} and {@code tokenizer_config.json} into {@code dir}. */
    public static void write(GgufFile f, Path dir) {
        String model = f.string("tokenizer.ggml.model");
        if (!model.equals("llama")) {
            throw new CheckpointException(f.path() + ": metadata tokenizer.ggml.model is \"" + model
                    + "\"; MedQA reads " + "\"llama\" (SentencePiece, as Mistral and Llama 2 files have) only");
        }
        List<String> tokens = strings(f, "tokenizer.ggml.tokens");
        List<?> scoreList = f.array("tokenizer.ggml.scores");
        List<?> typeList = f.has("tokenizer.ggml.token_type") ? f.array("tokenizer.ggml.token_type") : List.of();
        if (scoreList.size() != tokens.size()) {
            throw new CheckpointException(f.path() + ": metadata tokenizer.ggml.scores has " + scoreList.size()
                    + " entries for " + tokens.size() + " tokens");
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int i = 0; i < tokens.size(); i++) {
            vocab.put(tokens.get(i), i); // a repeated piece keeps its last id, as Python's dict does
        }
        Map<String, Double> scores = new LinkedHashMap<>();
        for (int i = 0; i < tokens.size(); i++) {
            scores.put(tokens.get(i), ((Number) scoreList.get(i)).doubleValue());
        }
        int bos = f.has("tokenizer.ggml.bos_token_id") ? (int) f.integer("tokenizer.ggml.bos_token_id") : 1;
        int eos = f.has("tokenizer.ggml.eos_token_id") ? (int) f.integer("tokenizer.ggml.eos_token_id") : 2;
        int unk = f.has("tokenizer.ggml.unknown_token_id") ? (int) f.integer("tokenizer.ggml.unknown_token_id") : 0;
        for (Map.Entry<String, Integer> id :
                Map.of("bos", bos, "eos", eos, "unknown", unk).entrySet()) {
            if (id.getValue() < 0 || id.getValue() >= tokens.size()) {
                throw new CheckpointException(f.path() + ": metadata tokenizer.ggml." + id.getKey() + "_token_id is "
                        + id.getValue() + ", not one of the " + tokens.size() + " tokens");
            }
        }
        // add_space_prefix false (SentencePiece's add_dummy_prefix off): no "▁" before the text, and
        // none to strip when decoding (transformers' converter does the same).
        boolean spacePrefix = !Boolean.FALSE.equals(f.metadata().get("tokenizer.ggml.add_space_prefix"));

        ObjectNode json = Json.MAPPER.createObjectNode().put("version", "1.0");
        json.putNull("truncation");
        json.putNull("padding");
        ArrayNode added = json.putArray("added_tokens");
        for (int i = 0; i < tokens.size(); i++) {
            long type = i < typeList.size() ? ((Number) typeList.get(i)).longValue() : 1;
            // UNKNOWN, CONTROL: whole and special; USER_DEFINED: whole, not special (kept in decoded text).
            if (type == 2 || type == 3 || type == 4 || i == unk) {
                added.addObject()
                        .put("id", i)
                        .put("content", tokens.get(i))
                        .put("single_word", false)
                        .put("lstrip", false)
                        .put("rstrip", false)
                        .put("normalized", false)
                        .put("special", type != 4);
            }
        }
        json.putNull("normalizer");
        json.putObject("pre_tokenizer")
                .put("type", "Metaspace")
                .put("replacement", "\u2581")
                .put("prepend_scheme", spacePrefix ? "first" : "never")
                .put("split", false);
        boolean addBos = !f.has("tokenizer.ggml.add_bos_token")
                || Boolean.TRUE.equals(f.metadata().get("tokenizer.ggml.add_bos_token"));
        ObjectNode post = json.putObject("post_processor").put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        ArrayNode pair = post.putArray("pair");
        if (addBos) {
            single.addObject()
                    .putObject("SpecialToken")
                    .put("id", tokens.get(bos))
                    .put("type_id", 0);
        }
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        if (addBos) {
            pair.addObject()
                    .putObject("SpecialToken")
                    .put("id", tokens.get(bos))
                    .put("type_id", 0);
        }
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        if (addBos) {
            pair.addObject()
                    .putObject("SpecialToken")
                    .put("id", tokens.get(bos))
                    .put("type_id", 1);
        }
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode specials = post.putObject("special_tokens");
        if (addBos) {
            ObjectNode b = specials.putObject(tokens.get(bos)).put("id", tokens.get(bos));
            b.putArray("ids").add(bos);
            b.putArray("tokens").add(tokens.get(bos));
        }
        ObjectNode decoder = json.putObject("decoder").put("type", "Sequence");
        ArrayNode decoders = decoder.putArray("decoders");
        decoders.addObject()
                .put("type", "Replace")
                .put("content", " ")
                .putObject("pattern")
                .put("String", "\u2581");
        decoders.addObject().put("type", "ByteFallback");
        decoders.addObject().put("type", "Fuse");
        if (spacePrefix) {
            decoders.addObject()
                    .put("type", "Strip")
                    .put("content", " ")
                    .put("start", 1)
                    .put("stop", 0);
        }
        ObjectNode bpe = json.putObject("model").put("type", "BPE");
        bpe.putNull("dropout");
        bpe.put("unk_token", tokens.get(unk));
        bpe.putNull("continuing_subword_prefix");
        bpe.putNull("end_of_word_suffix");
        bpe.put("fuse_unk", true).put("byte_fallback", true).put("ignore_merges", false);
        ObjectNode v = bpe.putObject("vocab");
        vocab.forEach(v::put);
        ArrayNode merges = bpe.putArray("merges");
        for (String[] m : merges(vocab, scores)) {
            merges.add(m[0] + " " + m[1]);
        }

        ObjectNode config = Json.MAPPER.createObjectNode();
        config.put("add_bos_token", addBos);
        config.put("add_eos_token", Boolean.TRUE.equals(f.metadata().get("tokenizer.ggml.add_eos_token")));
        config.put("bos_token", tokens.get(bos))
                .put("eos_token", tokens.get(eos))
                .put("unk_token", tokens.get(unk));
        config.put("legacy", spacePrefix) /* legacy prepends "▁" after special tokens too */
                .put("tokenizer_class", "LlamaTokenizer");
        config.put("clean_up_tokenization_spaces", false).put("spaces_between_special_tokens", false);
        if (f.has("tokenizer.chat_template")) {
            config.put("chat_template", f.string("tokenizer.chat_template"));
        }
        try {
            Files.writeString(dir.resolve("tokenizer.json"), Json.MAPPER.writeValueAsString(json));
            Files.writeString(dir.resolve("tokenizer_config.json"), Json.MAPPER.writeValueAsString(config));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> strings(GgufFile f, String key) {
        List<String> out = new ArrayList<>();
        for (Object o : f.array(key)) {
            if (!(o instanceof String s)) {
                throw new CheckpointException(f.path() + ": metadata " + key + " must be an array of strings");
            }
            out.add(s);
        }
        return out;
    }

    /**
     * transformers' {@code generate_merges(vocab, vocab_scores)}: every split of every piece into two
     * pieces of the vocabulary, by piece (in the order of first appearance) and within a piece by the
     * halves' ids; then sorted by the merged piece's score, the left and the right half's lengths, all
     * descending, ties kept in that order (Python's sort is stable, reversed or not; so is Java's).
     */
    static List<String[]> merges(Map<String, Integer> vocab, Map<String, Double> scores) {
        record Merge(String left, String right, double score) {}
        List<Merge> all = new ArrayList<>();
        Map<String, Integer> ids = new HashMap<>(vocab);
        for (Map.Entry<String, Double> e : scores.entrySet()) {
            String piece = e.getKey();
            if (piece.isEmpty()) {
                continue;
            }
            List<Merge> local = new ArrayList<>();
            // Python slices by code point: split between code points, never inside a surrogate pair.
            for (int i = piece.offsetByCodePoints(0, 1); i < piece.length(); i = piece.offsetByCodePoints(i, 1)) {
                String l = piece.substring(0, i);
                String r = piece.substring(i);
                if (ids.containsKey(l) && ids.containsKey(r)) {
                    local.add(new Merge(l, r, e.getValue()));
                }
            }
            local.sort(
                    Comparator.comparingInt((Merge m) -> ids.get(m.left())).thenComparingInt(m -> ids.get(m.right())));
            all.addAll(local);
        }
        all.sort(Comparator.comparingDouble(Merge::score)
                .thenComparingInt(m -> m.left().codePointCount(0, m.left().length()))
                .thenComparingInt(m -> m.right().codePointCount(0, m.right().length()))
                .reversed());
        List<String[]> out = new ArrayList<>(all.size());
        for (Merge m : all) {
            out.add(new String[] {m.left(), m.right()});
        }
        return out;
    }
}
