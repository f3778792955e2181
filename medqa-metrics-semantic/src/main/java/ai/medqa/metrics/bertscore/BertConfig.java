package ai.medqa.metrics.bertscore;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The fields of a Hugging Face BERT or RoBERTa {@code config.json} the encoder needs.
 *
 * @param modelType {@code bert} or {@code roberta} (RoBERTa numbers positions from {@code pad_token_id + 1})
 * @param name the model's hub name when the config records it ({@code _name_or_path}), else the folder name
 */
record BertConfig(
        String name,
        String modelType,
        int vocabSize,
        int hiddenSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int intermediateSize,
        int maxPositionEmbeddings,
        int typeVocabSize,
        float layerNormEps,
        int padTokenId) {

    BertConfig {
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException(
                    "hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numAttentionHeads);
        }
    }

    /** all-MiniLM-L6-v2 (its config.json; the ONNX file does not carry the head count). */
    static BertConfig miniLmL6() {
        return new BertConfig(
                "sentence-transformers/all-MiniLM-L6-v2", "bert", 30522, 384, 6, 12, 1536, 512, 2, 1e-12f, 0);
    }

    boolean isRoberta() {
        return modelType.equals("roberta") || modelType.equals("xlm-roberta");
    }

    /** Index of the first real position: RoBERTa's positions start after the padding index. */
    int positionOffset() {
        return isRoberta() ? padTokenId + 1 : 0;
    }

    /** The longest input, special tokens included, that has position embeddings. */
    int maxTokens() {
        return maxPositionEmbeddings - positionOffset();
    }

    int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    static BertConfig read(Path file) throws IOException {
        JsonNode j = Json.MAPPER.readTree(file.toFile());
        String type = text(j, "model_type", "bert");
        if (!type.equals("bert") && !type.equals("roberta") && !type.equals("xlm-roberta")) {
            throw new IllegalArgumentException(
                    file + ": model_type \"" + type + "\"; this encoder runs bert and roberta");
        }
        String act = text(j, "hidden_act", "gelu");
        if (!act.equals("gelu")) {
            throw new IllegalArgumentException(
                    file + ": hidden_act \"" + act + "\"; only \"gelu\" (erf) is implemented");
        }
        String positions = text(j, "position_embedding_type", "absolute");
        if (!positions.equals("absolute")) {
            throw new IllegalArgumentException(
                    file + ": position_embedding_type \"" + positions + "\"; only absolute positions are implemented");
        }
        Path folder = file.toAbsolutePath().getParent();
        String name = text(j, "_name_or_path", folder.getFileName().toString());
        if (name.isEmpty()) {
            name = folder.getFileName().toString();
        }
        return new BertConfig(
                name,
                type,
                integer(j, "vocab_size", file),
                integer(j, "hidden_size", file),
                integer(j, "num_hidden_layers", file),
                integer(j, "num_attention_heads", file),
                integer(j, "intermediate_size", file),
                integer(j, "max_position_embeddings", file),
                j.path("type_vocab_size").asInt(2),
                (float) j.path("layer_norm_eps").asDouble(1e-12),
                j.path("pad_token_id").asInt(type.equals("bert") ? 0 : 1));
    }

    private static String text(JsonNode j, String field, String fallback) {
        JsonNode v = j.get(field);
        return v == null || v.isNull() ? fallback : v.asText();
    }

    private static int integer(JsonNode j, String field, Path file) {
        JsonNode v = j.get(field);
        if (v == null || !v.canConvertToInt()) {
            throw new IllegalArgumentException(file + ": missing or non-integer \"" + field + "\"");
        }
        return v.asInt();
    }
}
