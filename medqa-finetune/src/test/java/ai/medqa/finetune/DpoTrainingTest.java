package ai.medqa.finetune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.common.Json;
import ai.medqa.lora.LoraConfig;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * medqa finetune's DPO method end to end on a small model: the loss starts at log 2 (policy and
 * reference agree while B is zero) and falls on held-out pairs of the same preference; a killed run
 * resumes to the same adapter bytes; a pair without "rejected" is refused before the model loads.
 */
class DpoTrainingTest {
    @TempDir
    Path dir;

    Path pairs(int n) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ObjectNode line = Json.MAPPER.createObjectNode();
            line.putArray("prompt")
                    .addObject()
                    .put("role", "user")
                    .put("content", "Question " + i + ": is drug " + i + " safe?");
            line.putArray("chosen").addObject().put("role", "assistant").put("content", "yes yes yes");
            line.putArray("rejected").addObject().put("role", "assistant").put("content", "no no no");
            lines.add(line.toString());
        }
        return Files.write(dir.resolve("pairs.jsonl"), lines);
    }

    FineTune.Builder settings(Path data, Path out) {
        return FineTune.builder()
                .model(TestModels.pubmedModel())
                .data(data)
                .method(FineTune.Method.DPO)
                .beta(0.5)
                .output(out)
                .lora(LoraConfig.of(4, 8, 0.0, List.of("q_proj", "v_proj", "o_proj")))
                .learningRate(2e-2)
                .batchSize(4)
                .gradientAccumulation(1)
                .maxLength(128)
                .maxSteps(8)
                .evalFraction(0.25)
                .evalEvery(4)
                .saveEvery(2)
                .seed(5);
    }

    @Test
    void preferencesAreLearnedAndAKilledRunResumesToTheSameAdapter() throws Exception {
        Path data = pairs(16);
        FineTuneResult r = settings(data, dir.resolve("full")).build().run();
        System.out.printf(
                "[figure] DPO: held-out loss %.4f -> %.4f, train loss %s%n",
                r.initialEvalLoss(),
                r.evalLoss(),
                r.history().stream().map(s -> String.format("%.3f", s.loss())).toList());
        assertThat(r.initialEvalLoss()).as("policy = reference at the start").isCloseTo(Math.log(2), within(1e-4));
        assertThat(r.history().get(0).loss()).isCloseTo(Math.log(2), within(1e-4));
        assertThat(r.evalLoss()).as("held-out pairs of the same preference").isLessThan(Math.log(2) - 0.05);
        assertThat(dir.resolve("full/adapter_model.safetensors")).exists();

        Path killed = dir.resolve("killed");
        assertThatThrownBy(() -> settings(data, killed)
                        .onStep(s -> {
                            if (s.step() == 5) {
                                throw new IllegalStateException("simulated kill");
                            }
                        })
                        .build()
                        .run())
                .hasMessageContaining("simulated kill");
        FineTuneResult resumed = settings(data, killed).resume(true).build().run();
        assertThat(resumed.steps()).isEqualTo(8);
        assertThat(Files.readAllBytes(killed.resolve("adapter_model.safetensors")))
                .isEqualTo(Files.readAllBytes(dir.resolve("full/adapter_model.safetensors")));

        // Continuing from the trained adapter: it is the reference now (TRL's frozen copy), so the loss
        // starts at log 2 again, where against the base model it would start near 0.
        FineTuneResult more = settings(data, dir.resolve("more"))
                .initAdapter(dir.resolve("full"))
                .maxSteps(2)
                .build()
                .run();
        assertThat(more.initialEvalLoss()).isCloseTo(Math.log(2), within(1e-4));
        assertThat(more.history().get(0).loss()).isCloseTo(Math.log(2), within(1e-4));
    }

    @Test
    void aPairWithoutRejectedIsRefusedBeforeTheModelLoads() throws Exception {
        Path bad = Files.writeString(
                dir.resolve("bad.jsonl"),
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], "
                        + "\"chosen\": [{\"role\": \"assistant\", \"content\": \"a\"}]}\n");
        assertThatThrownBy(() -> FineTune.builder()
                        .model(dir.resolve("no-model"))
                        .data(bad)
                        .method(FineTune.Method.DPO)
                        .output(dir.resolve("out"))
                        .build()
                        .run())
                .hasMessageContaining("bad.jsonl: line 1: no field 'rejected'")
                .hasMessageNotContaining("no-model");
    }
}
