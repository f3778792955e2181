package ai.medqa.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.common.Json;
import ai.medqa.io.CheckpointException;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.Logits;
import ai.medqa.model.MistralModel;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A merged checkpoint written by {@link LoraMerge} gives PEFT's merged logits when loaded plainly. */
class LoraMergeTest {

    static Path resource(String name) throws Exception {
        return Path.of(LoraMergeTest.class.getResource(name).toURI());
    }

    @Test
    void mergedCheckpointMatchesPeftMergeAndUnload(@TempDir Path dir) throws Exception {
        JsonNode golden =
                Json.MAPPER.readTree(resource("/fixtures/lora/golden.json").toFile());
        int[] prompt = Json.MAPPER.convertValue(golden.get("prompt"), int[].class);
        for (String adapter : new String[] {"C-qv", "C-all", "C-rslora"}) {
            Path out = dir.resolve(adapter);
            LoraMerge.write(resource("/fixtures/mistral-swa/f32"), resource("/fixtures/lora/" + adapter), out);
            JsonNode expected = golden.get("adapters").get(adapter);
            try (MistralModel m = MistralModel.load(out, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
                double max = Logits.maxAbsDiff(
                        Logits.prefillAll(m, prompt), Logits.floats2(expected.get("merged_prompt_logits")));
                assertThat(max)
                        .as(adapter + " merged logits vs PEFT merge_and_unload")
                        .isLessThanOrEqualTo(1e-3);
                assertThat(Logits.greedy(m, prompt, golden.get("n_greedy").asInt()))
                        .containsExactly(Logits.ints(expected.get("merged_greedy")));
            }
        }
    }

    @Test
    void refusesAnAdapterThatDoesNotFitNamingTheKey(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("merged");
        assertThatThrownBy(() ->
                        LoraMerge.write(resource("/fixtures/llama-rc/A/f32"), resource("/fixtures/lora/C-qv"), out))
                .isInstanceOf(LoraException.class)
                .hasMessageContaining("missing key base_model.model.model.layers.4.self_attn.q_proj.lora_A.weight");
        assertThat(out).doesNotExist();
    }

    @Test
    void neverOverwritesAnExistingFolder(@TempDir Path dir) throws Exception {
        Path out = Files.createDirectories(dir.resolve("merged"));
        assertThatThrownBy(() ->
                        LoraMerge.write(resource("/fixtures/mistral-swa/f32"), resource("/fixtures/lora/C-qv"), out))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("exists");
    }
}
