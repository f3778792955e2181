package ai.medqa.model;

import ai.medqa.common.Json;
import ai.medqa.io.CheckpointException;
import ai.medqa.io.DType;
import ai.medqa.io.SafetensorsWriter;
import ai.medqa.io.TensorData;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a Hugging Face folder ({@code config.json} + {@code model.safetensors}) of given shapes with
 * seeded random weights: for benchmarks and tests that need a model no one can download here.
 * Projections are drawn N(0, 1/in) so activations stay O(1) through the layers.
 */
public final class RandomCheckpoint {
    private RandomCheckpoint() {}

    /** Writes {@code config} (with {@code model_type} mistral) and random weights stored as {@code storage}. */
    public static void write(Path dir, MistralConfig config, DType storage, long seed) {
        if (storage != DType.F32 && storage != DType.F16) {
            throw new IllegalArgumentException("storage must be F32 or F16, got " + storage);
        }
        SplittableRandom random = new SplittableRandom(seed);
        long h = config.hiddenSize();
        long q = (long) config.numAttentionHeads() * config.headDim();
        long kv = (long) config.numKeyValueHeads() * config.headDim();
        long inter = config.intermediateSize();
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        tensors.put("model.embed_tokens.weight", gaussian(storage, random, 1.0, config.vocabSize(), h));
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            tensors.put(p + "input_layernorm.weight", ones(storage, h));
            tensors.put(p + "self_attn.q_proj.weight", gaussian(storage, random, 1 / Math.sqrt(h), q, h));
            tensors.put(p + "self_attn.k_proj.weight", gaussian(storage, random, 1 / Math.sqrt(h), kv, h));
            tensors.put(p + "self_attn.v_proj.weight", gaussian(storage, random, 1 / Math.sqrt(h), kv, h));
            tensors.put(p + "self_attn.o_proj.weight", gaussian(storage, random, 1 / Math.sqrt(q), h, q));
            tensors.put(p + "post_attention_layernorm.weight", ones(storage, h));
            tensors.put(p + "mlp.gate_proj.weight", gaussian(storage, random, 1 / Math.sqrt(h), inter, h));
            tensors.put(p + "mlp.up_proj.weight", gaussian(storage, random, 1 / Math.sqrt(h), inter, h));
            tensors.put(p + "mlp.down_proj.weight", gaussian(storage, random, 1 / Math.sqrt(inter), h, inter));
        }
        tensors.put("model.norm.weight", ones(storage, h));
        if (!config.tieWordEmbeddings()) {
            tensors.put("lm_head.weight", gaussian(storage, random, 1 / Math.sqrt(h), config.vocabSize(), h));
        }
        try {
            Files.createDirectories(dir);
            writeConfig(dir.resolve(MistralConfig.FILE_NAME), config, storage);
        } catch (IOException e) {
            throw new CheckpointException(dir + ": cannot write config.json: " + e.getMessage(), e);
        }
        SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
    }

    private static void writeConfig(Path file, MistralConfig c, DType storage) throws IOException {
        ObjectMapper mapper = Json.MAPPER;
        ObjectNode json = mapper.createObjectNode();
        json.putArray("architectures").add("MistralForCausalLM");
        json.put("model_type", "mistral");
        json.put("hidden_size", c.hiddenSize());
        json.put("intermediate_size", c.intermediateSize());
        json.put("num_hidden_layers", c.numHiddenLayers());
        json.put("num_attention_heads", c.numAttentionHeads());
        json.put("num_key_value_heads", c.numKeyValueHeads());
        json.put("head_dim", c.headDim());
        json.put("vocab_size", c.vocabSize());
        json.put("max_position_embeddings", c.maxPositionEmbeddings());
        json.put("rms_norm_eps", c.rmsNormEps());
        json.put("rope_theta", c.ropeTheta());
        if (c.slidingWindow() > 0) {
            json.put("sliding_window", c.slidingWindow());
        } else {
            json.putNull("sliding_window");
        }
        json.put("hidden_act", "silu");
        json.put("tie_word_embeddings", c.tieWordEmbeddings());
        json.put("torch_dtype", storage == DType.F16 ? "float16" : "float32");
        json.put("bos_token_id", c.bosTokenId());
        json.put("eos_token_id", c.eosTokenIds().get(0));
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, mapper.writerWithDefaultPrettyPrinter().writeValueAsString(json));
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** A config with Mistral's layout and the given sizes (head_dim = hidden / heads). */
    public static MistralConfig config(
            int hidden,
            int intermediate,
            int layers,
            int heads,
            int kvHeads,
            int vocab,
            int maxPositions,
            int slidingWindow) {
        return new MistralConfig(
                "mistral",
                hidden,
                intermediate,
                layers,
                heads,
                kvHeads,
                hidden / heads,
                vocab,
                1e-5,
                10000.0,
                slidingWindow,
                maxPositions,
                false,
                1,
                List.of(2),
                null);
    }

    private static TensorData ones(DType storage, long n) {
        float[] v = new float[(int) n];
        Arrays.fill(v, 1f);
        return TensorData.ofFloats(storage, new long[] {n}, v);
    }

    private static TensorData gaussian(DType storage, SplittableRandom random, double std, long rows, long cols) {
        float[] v = new float[Math.toIntExact(rows * cols)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (random.nextGaussian() * std);
        }
        return TensorData.ofFloats(storage, new long[] {rows, cols}, v);
    }
}
