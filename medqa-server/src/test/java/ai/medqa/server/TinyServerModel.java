package ai.medqa.server;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.MedQA;
import ai.medqa.io.DType;
import ai.medqa.io.SafetensorsWriter;
import ai.medqa.io.TensorData;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraConfig;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A small random Mistral with Mistral's real tokenizer and chat template, and a LoRA adapter
 * "pubmed" whose B is non-zero (so it changes the answers), written into a folder.
 */
final class TinyServerModel {
    static final Path TOKENIZERS = Path.of("../medqa-core/src/test/resources/tokenizer");

    private TinyServerModel() {}

    /** Writes the model into {@code dir/model} and the adapter into {@code dir/pubmed}. */
    static void write(Path dir, int context) {
        try {
            Path model = dir.resolve("model");
            RandomCheckpoint.write(model, RandomCheckpoint.config(32, 64, 2, 4, 2, 32000, context, 0), DType.F32, 7);
            Files.copy(TOKENIZERS.resolve("mistral-7b-v0.1/tokenizer.json"), model.resolve("tokenizer.json"));
            Files.copy(
                    TOKENIZERS.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"),
                    model.resolve("tokenizer_config.json"));
            try (MistralModel m = MistralModel.load(model, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
                LoraConfig config = LoraConfig.of(4, 8, 0, List.of("q_proj", "v_proj"));
                LoraAdapter fresh = LoraAdapter.create(m, "pubmed", config, 3);
                SplittableRandom random = new SplittableRandom(5);
                Map<String, TensorData> tensors = new TreeMap<>();
                fresh.tensors().forEach((key, t) -> {
                    if (key.contains("lora_B")) {
                        float[] b = new float[Math.toIntExact(t.shape()[0] * t.shape()[1])];
                        for (int i = 0; i < b.length; i++) {
                            b[i] = (float) random.nextDouble(-0.5, 0.5);
                        }
                        tensors.put(key, TensorData.ofFloats(DType.F32, t.shape(), b));
                    } else {
                        tensors.put(key, t);
                    }
                });
                Path adapter = dir.resolve("pubmed");
                fresh.save(adapter);
                SafetensorsWriter.write(adapter.resolve(LoraAdapter.WEIGHTS_FILE), tensors, Map.of("format", "pt"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static MedQA load(Path dir) {
        return MedQA.builder()
                .model(dir.resolve("model"))
                .lora("pubmed", dir.resolve("pubmed"))
                .build();
    }
}
