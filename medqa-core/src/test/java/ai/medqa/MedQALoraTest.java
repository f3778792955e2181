package ai.medqa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The builder's {@code lora(dir)} and per-request switching give PEFT's greedy tokens. */
class MedQALoraTest {

    static Path resource(String name) throws Exception {
        return Path.of(MedQALoraTest.class.getResource(name).toURI());
    }

    @Test
    void adaptersFromTheBuilderMatchPeftAndSwitchPerRequest() throws Exception {
        JsonNode golden =
                Json.MAPPER.readTree(resource("/fixtures/lora/golden.json").toFile());
        int[] prompt = Json.MAPPER.convertValue(golden.get("prompt"), int[].class);
        int n = golden.get("n_greedy").asInt();
        int[] base = Json.MAPPER.convertValue(
                Json.MAPPER
                        .readTree(resource("/fixtures/mistral-swa/golden.json").toFile())
                        .get("cases")
                        .get(0)
                        .get("greedy"),
                int[].class);
        try (MedQA medqa = MedQA.builder()
                .model(resource("/fixtures/mistral-swa/f32"))
                .lora(resource("/fixtures/lora/C-qv"))
                .lora("all", resource("/fixtures/lora/C-all"))
                .build()) {
            assertThat(medqa.activeAdapter()).contains("C-qv");
            assertThat(medqa.generate(prompt, n).tokens()).containsExactly(greedy(golden, "C-qv"));
            medqa.useAdapter("all");
            assertThat(medqa.generate(prompt, n).tokens()).containsExactly(greedy(golden, "C-all"));
            medqa.useAdapter(null);
            assertThat(medqa.generate(prompt, n).tokens()).containsExactly(base);
            medqa.useAdapter("C-qv");
            assertThat(medqa.generate(prompt, n).tokens()).containsExactly(greedy(golden, "C-qv"));
            assertThatThrownBy(() -> medqa.useAdapter("nope")).hasMessageContaining("nope");

            // Adapters addressed by model name, as the server, langchain4j and Spring AI address them.
            assertThat(medqa.adapterForModel("model", null, "base")).isNull();
            assertThat(medqa.adapterForModel("model", "base", "base")).isNull();
            assertThat(medqa.adapterForModel("model", "all", "base")).isEqualTo("all");
            assertThatThrownBy(() -> medqa.adapterForModel("modelName", "nope", "base"))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("modelName nope is neither this model (base) nor one of its adapters [");
        }
    }

    private static int[] greedy(JsonNode golden, String adapter) {
        return Json.MAPPER.convertValue(golden.get("adapters").get(adapter).get("greedy"), int[].class);
    }
}
