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
 * medqa finetune's KTO method end to end on a small model: the loss starts at 0.5 (policy = reference,
 * KL estimate 0) and falls on held-out examples of the same taste; a killed run resumes to the same
 * adapter bytes; a line without a boolean label is refused before the model loads.
 */
class KtoTrainingTest {
    @TempDir
    Path dir;

    Path examples(int n) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ObjectNode line = Json.MAPPER.createObjectNode();
            line.putArray("prompt")
                    .addObject()
                    .put("role", "user")
                    .put("content", "Question " + i + ": is drug " + i + " safe?");
            boolean liked = i % 2 == 0;
            line.putArray("completion")
                    .addObject()
                    .put("role", "assistant")
                    .put("content", liked ? "yes yes yes" : "no no no");
            line.put("label", liked);
            lines.add(line.toString());
        }
        return Files.write(dir.resolve("kto.jsonl"), lines);
    }

    FineTune.Builder settings(Path data, Path out) {
        return settings(data, out, 0.0);
    }

    FineTune.Builder settings(Path data, Path out, double dropout) {
        return FineTune.builder()
                .model(TestModels.pubmedModel())
                .data(data)
                .method(FineTune.Method.KTO)
                .beta(0.5)
                .output(out)
                .lora(LoraConfig.of(4, 8, dropout, List.of("q_proj", "v_proj", "o_proj")))
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
    void tasteIsLearnedAndAKilledRunResumesToTheSameAdapter() throws Exception {
        Path data = examples(24);
        FineTuneResult r = settings(data, dir.resolve("full")).build().run();
        System.out.printf(
                "[figure] KTO: held-out loss %.4f -> %.4f, train loss %s%n",
                r.initialEvalLoss(),
                r.evalLoss(),
                r.history().stream().map(s -> String.format("%.3f", s.loss())).toList());
        assertThat(r.initialEvalLoss()).as("policy = reference at the start").isCloseTo(0.5, within(1e-4));
        assertThat(r.evalLoss()).as("held-out examples of the same taste").isLessThan(0.45);

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
        settings(data, killed).resume(true).build().run();
        assertThat(Files.readAllBytes(killed.resolve("adapter_model.safetensors")))
                .isEqualTo(Files.readAllBytes(dir.resolve("full/adapter_model.safetensors")));
    }

    /**
     * With LoRA dropout the KL estimate draws dropout masks too (in training mode, as TRL's): from the
     * step's seeded generator, so a killed run still resumes to the same bytes.
     */
    @Test
    void aKilledRunWithDropoutResumesToTheSameAdapter() throws Exception {
        Path data = examples(16);
        settings(data, dir.resolve("full"), 0.05)
                .maxSteps(4)
                .evalFraction(0)
                .build()
                .run();
        Path killed = dir.resolve("killed");
        assertThatThrownBy(() -> settings(data, killed, 0.05)
                        .maxSteps(4)
                        .evalFraction(0)
                        .onStep(s -> {
                            if (s.step() == 3) {
                                throw new IllegalStateException("simulated kill");
                            }
                        })
                        .build()
                        .run())
                .hasMessageContaining("simulated kill");
        settings(data, killed, 0.05)
                .maxSteps(4)
                .evalFraction(0)
                .resume(true)
                .build()
                .run();
        assertThat(Files.readAllBytes(killed.resolve("adapter_model.safetensors")))
                .isEqualTo(Files.readAllBytes(dir.resolve("full/adapter_model.safetensors")));
        assertThatThrownBy(() -> settings(data, dir.resolve("one")).batchSize(1).build())
                .hasMessageContaining("KTO needs a batch size of at least 2");
    }

    @Test
    void aLineWithoutALabelIsRefusedBeforeTheModelLoads() throws Exception {
        Path bad = Files.writeString(
                dir.resolve("bad.jsonl"),
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], "
                        + "\"completion\": [{\"role\": \"assistant\", \"content\": \"a\"}], \"label\": \"yes\"}\n");
        assertThatThrownBy(() -> FineTune.builder()
                        .model(dir.resolve("no-model"))
                        .data(bad)
                        .method(FineTune.Method.KTO)
                        .output(dir.resolve("out"))
                        .build()
                        .run())
                .hasMessageContaining("bad.jsonl: line 1: label must be true (liked) or false (disliked)")
                .hasMessageNotContaining("no-model");
    }
}
