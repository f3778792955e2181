package ai.medqa.finetune;

import ai.medqa.common.Json;
import ai.medqa.io.DType;
import ai.medqa.io.SafetensorsFile;
import ai.medqa.io.SafetensorsWriter;
import ai.medqa.io.TensorData;
import ai.medqa.io.TensorInfo;
import ai.medqa.model.RandomCheckpoint;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Small random models written once per test JVM. */
final class TestModels {
    private static Path pubmedModel;

    private TestModels() {}

    /** The real Mistral tokenizer's folder (tokenizer.json only: transformers' Llama defaults apply). */
    static Path tokenizerDir() {
        return Fixtures.resource("tokenizer/mistral-7b-v0.1");
    }

    /**
     * A random 2-layer Mistral (hidden 64) with a byte-level tokenizer: Mistral's {@code tokenizer.json}
     * cut down to its 256 byte-fallback pieces, the three specials and "▁" (260 ids, no merges), so
     * that every character is one or a few tokens. With the full 32,000-piece vocabulary the output
     * layer would be 97% of the compute and a 64-wide model could not move its predictions far from
     * uniform in a test's budget; over bytes it learns the answers' statistics within one epoch.
     * {@link DataTest} covers the real tokenizer.
     */
    static synchronized Path pubmedModel() {
        if (pubmedModel == null) {
            try {
                Path dir = Files.createTempDirectory("medqa-finetune-model");
                dir.toFile().deleteOnExit();
                RandomCheckpoint.write(dir, RandomCheckpoint.config(64, 128, 2, 4, 2, 260, 512, 0), DType.F32, 11);
                addSharedEmbeddingDirection(dir.resolve("model.safetensors"), 12);
                writeByteTokenizer(dir.resolve("tokenizer.json"));
                pubmedModel = dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return pubmedModel;
    }

    /**
     * Adds one random vector to every token embedding. Purely random weights have no component
     * shared by all positions, so nothing inside the network (it has no biases) can shift the output
     * towards frequent tokens; trained embeddings do share such a direction. With it, an adapter can
     * learn the answers' token statistics in a few dozen steps, which is what the test measures.
     */
    private static void addSharedEmbeddingDirection(Path file, long seed) {
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (TensorInfo info : st.tensors().values()) {
                if (info.name().equals("model.embed_tokens.weight")) {
                    float[] e = st.readFloats(info.name());
                    int h = (int) info.shape()[1];
                    Random r = new Random(seed);
                    float[] shared = new float[h];
                    for (int i = 0; i < h; i++) {
                        shared[i] = (float) r.nextGaussian();
                    }
                    for (int i = 0; i < e.length; i++) {
                        e[i] += shared[i % h];
                    }
                    tensors.put(info.name(), TensorData.ofFloats(DType.F32, info.shape(), e));
                } else {
                    ByteBuffer raw = st.raw(info.name());
                    ByteBuffer copy = ByteBuffer.allocate(raw.remaining());
                    copy.put(raw.duplicate()).flip();
                    tensors.put(info.name(), new TensorData(info.dtype(), info.shape(), copy));
                }
            }
        }
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
    }

    private static void writeByteTokenizer(Path target) throws IOException {
        ObjectMapper json = Json.MAPPER;
        ObjectNode root = (ObjectNode)
                json.readTree(tokenizerDir().resolve("tokenizer.json").toFile());
        ObjectNode model = (ObjectNode) root.get("model");
        ObjectNode vocab = json.createObjectNode();
        vocab.put("<unk>", 0).put("<s>", 1).put("</s>", 2);
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), 3 + b);
        }
        vocab.put("\u2581", 259);
        model.set("vocab", vocab);
        model.putArray("merges");
        json.writeValue(target.toFile(), root);
    }

    static Path pubmedSubset() {
        return Fixtures.resource("pubmedqa/pqal_subset.json");
    }
}
