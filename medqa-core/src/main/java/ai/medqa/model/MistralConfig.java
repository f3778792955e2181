package ai.medqa.model;

import ai.medqa.common.Json;
import ai.medqa.common.JsonFields;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The fields of a Hugging Face {@code config.json} for {@code model_type} {@code mistral} or
 * {@code llama} that the forward pass needs. Each component mirrors the JSON field of the same name
 * (camel-cased); optional fields take the defaults of transformers' {@code MistralConfig} /
 * {@code LlamaConfig}. Unknown keys are ignored, as transformers does.
 *
 * @param slidingWindow 0 when the model attends to the whole context
 * @param quantizationConfig the raw {@code quantization_config} object, or null
 */
public record MistralConfig(
        String modelType,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        int vocabSize,
        double rmsNormEps,
        double ropeTheta,
        int slidingWindow,
        int maxPositionEmbeddings,
        boolean tieWordEmbeddings,
        int bosTokenId,
        List<Integer> eosTokenIds,
        JsonNode quantizationConfig) {

    public static final String FILE_NAME = "config.json";

    public MistralConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
        check(hiddenSize > 0, "hidden_size", hiddenSize, "> 0");
        check(intermediateSize > 0, "intermediate_size", intermediateSize, "> 0");
        check(numHiddenLayers > 0, "num_hidden_layers", numHiddenLayers, "> 0");
        check(numAttentionHeads > 0, "num_attention_heads", numAttentionHeads, "> 0");
        check(
                numKeyValueHeads > 0 && numAttentionHeads % numKeyValueHeads == 0,
                "num_key_value_heads",
                numKeyValueHeads,
                "> 0 and a divisor of num_attention_heads (" + numAttentionHeads + ")");
        check(headDim > 0 && headDim % 2 == 0, "head_dim", headDim, "a positive even number (RoPE rotates halves)");
        check(vocabSize > 0, "vocab_size", vocabSize, "> 0");
        check(rmsNormEps > 0 && rmsNormEps < 1, "rms_norm_eps", rmsNormEps, "in (0, 1)");
        check(ropeTheta > 0, "rope_theta", ropeTheta, "> 0");
        check(slidingWindow >= 0, "sliding_window", slidingWindow, "null or > 0");
        check(maxPositionEmbeddings > 0, "max_position_embeddings", maxPositionEmbeddings, "> 0");
    }

    /** Reads {@code dir/config.json}. */
    public static MistralConfig load(Path dir) {
        Path file = dir.resolve(FILE_NAME);
        JsonNode json = Json.readObject(
                file, "not found; a model folder needs a Hugging Face config.json", ConfigException::new);
        return fromJson(json, file.toString());
    }

    /** Parses a config object; {@code source} names it in error messages. */
    public static MistralConfig fromJson(JsonNode json, String source) {
        JsonFields f = new JsonFields(json, source, ConfigException::new);
        String modelType = f.requiredString("model_type");
        if (!modelType.equals("mistral") && !modelType.equals("llama")) {
            throw new ConfigException(
                    source + ": model_type is \"" + modelType + "\"; expected \"mistral\" or \"llama\"");
        }
        String act = f.string("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new ConfigException(source + ": hidden_act is \"" + act + "\"; only \"silu\" (SwiGLU) is supported");
        }
        if (json.hasNonNull("rope_scaling")) {
            throw new ConfigException(source + ": rope_scaling " + json.get("rope_scaling")
                    + " is not supported; expected null (plain RoPE)");
        }
        for (String bias : new String[] {"attention_bias", "mlp_bias"}) {
            if (json.path(bias).asBoolean(false)) {
                throw new ConfigException(source + ": " + bias + " = true is not supported; expected false");
            }
        }
        int hidden = f.requiredInt("hidden_size");
        int heads = f.requiredInt("num_attention_heads");
        boolean mistral = modelType.equals("mistral");
        // transformers' MistralConfig defaults sliding_window to 4096; LlamaConfig has none.
        int window = json.has("sliding_window")
                ? (json.get("sliding_window").isNull() ? 0 : f.requiredInt("sliding_window"))
                : (mistral ? 4096 : 0);
        try {
            return new MistralConfig(
                    modelType,
                    hidden,
                    f.requiredInt("intermediate_size"),
                    f.requiredInt("num_hidden_layers"),
                    heads,
                    f.optionalInt("num_key_value_heads", heads),
                    f.optionalInt("head_dim", heads > 0 && hidden % heads == 0 ? hidden / heads : -1),
                    f.requiredInt("vocab_size"),
                    f.optionalDouble("rms_norm_eps", 1e-6),
                    f.optionalDouble("rope_theta", 10000.0),
                    window,
                    f.optionalInt("max_position_embeddings", mistral ? 4096 * 32 : 2048),
                    json.path("tie_word_embeddings").asBoolean(false),
                    f.optionalInt("bos_token_id", 1),
                    eosIds(json, f),
                    json.get("quantization_config"));
        } catch (ConfigException e) {
            throw new ConfigException(source + ": " + e.getMessage(), e);
        }
    }

    /**
     * This configuration as a Hugging Face config.json that {@link #fromJson} and transformers read
     * back to the same model ({@code quantization_config} left out: the writer of the weights adds it).
     */
    public ObjectNode toJson() {
        ObjectNode j = Json.MAPPER.createObjectNode();
        j.putArray("architectures").add(modelType.equals("mistral") ? "MistralForCausalLM" : "LlamaForCausalLM");
        j.put("model_type", modelType)
                .put("hidden_act", "silu")
                .put("hidden_size", hiddenSize)
                .put("intermediate_size", intermediateSize)
                .put("num_hidden_layers", numHiddenLayers)
                .put("num_attention_heads", numAttentionHeads)
                .put("num_key_value_heads", numKeyValueHeads)
                .put("head_dim", headDim)
                .put("vocab_size", vocabSize)
                .put("rms_norm_eps", rmsNormEps)
                .put("rope_theta", ropeTheta)
                .put("max_position_embeddings", maxPositionEmbeddings)
                .put("tie_word_embeddings", tieWordEmbeddings)
                .put("bos_token_id", bosTokenId);
        if (slidingWindow > 0) {
            j.put("sliding_window", slidingWindow);
        } else {
            j.putNull("sliding_window");
        }
        if (eosTokenIds.size() == 1) {
            j.put("eos_token_id", eosTokenIds.get(0));
        } else {
            eosTokenIds.forEach(j.putArray("eos_token_id")::add);
        }
        j.putNull("rope_scaling");
        j.put("attention_bias", false).put("mlp_bias", false);
        return j;
    }

    public int numKeyValueGroups() {
        return numAttentionHeads / numKeyValueHeads;
    }

    /** Parameters of the model these shapes describe (embedding, layers, norm and lm_head). */
    public long parameterCount() {
        long h = hiddenSize;
        long q = (long) numAttentionHeads * headDim;
        long kv = (long) numKeyValueHeads * headDim;
        long perLayer = h * q + 2 * h * kv + q * h + 3 * h * intermediateSize + 2 * h;
        long embed = (long) vocabSize * h;
        return embed + numHiddenLayers * perLayer + h + (tieWordEmbeddings ? 0 : embed);
    }

    private static void check(boolean ok, String field, Object value, String expected) {
        if (!ok) {
            throw new ConfigException("config field " + field + " is " + value + "; expected " + expected);
        }
    }

    /** {@code eos_token_id}: one id, a list, or absent (2, Llama's and Mistral's). */
    private static List<Integer> eosIds(JsonNode json, JsonFields f) {
        JsonNode n = json.get("eos_token_id");
        List<Integer> ids = new ArrayList<>();
        if (n == null || n.isNull()) {
            ids.add(2);
        } else if (n.isArray()) {
            for (JsonNode e : n) {
                ids.add(f.integer("eos_token_id", e));
            }
        } else {
            ids.add(f.integer("eos_token_id", n));
        }
        return ids;
    }
}
