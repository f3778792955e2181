package ai.medqa.lora;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.common.Json;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.Logits;
import ai.medqa.model.MistralModel;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;

/** Model C, the PEFT goldens of fixtures/lora/, and forward helpers for the LoRA tests. */
final class LoraFixtures {
    private static JsonNode golden;

    private LoraFixtures() {}

    static Path fixture(String relative) {
        try {
            return Path.of(
                    LoraFixtures.class.getResource("/fixtures/" + relative).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test resource fixtures/" + relative, e);
        }
    }

    static JsonNode json(String relative) {
        try {
            return Json.MAPPER.readTree(fixture(relative).toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** fixtures/lora/golden.json (made by transformers + PEFT). */
    static synchronized JsonNode golden() {
        if (golden == null) {
            golden = json("lora/golden.json");
        }
        return golden;
    }

    static int[] prompt() {
        return Logits.ints(golden().get("prompt"));
    }

    /** Model C (mistral-swa: 4 layers, hidden 64, sliding window 6) in {@code storage} and compute {@code dtype}. */
    static MistralModel modelC(String storage, DataType dtype) {
        return MistralModel.load(fixture("mistral-swa/" + storage), Device.cpu(), dtype, LinearFactory.DENSE);
    }

    static MistralModel modelC() {
        return modelC("f32", DataType.FLOAT32);
    }
}
