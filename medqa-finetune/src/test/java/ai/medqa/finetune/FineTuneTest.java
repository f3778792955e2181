package ai.medqa.finetune;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraAdapters;
import ai.medqa.lora.LoraConfig;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import ai.medqa.tokenizer.Tokenizer;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fine-tuning a small random model on 270 PubMedQA answers (30 held out, the official test split
 * never seen) lowers the held-out loss; the saved adapter reloads to the logits it had in training;
 * steps leave no native arrays behind.
 */
class FineTuneTest {
    @TempDir
    Path out;

    @Test
    void pubMedQaFineTuningLowersHeldOutLossAndTheAdapterReloads() throws IOException {
        Path modelDir = TestModels.pubmedModel();
        List<Integer> arrays = new ArrayList<>();
        FineTuneResult r;
        try (MistralModel model = MistralModel.load(modelDir, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE);
                Tokenizer tok = Tokenizer.load(modelDir)) {
            r = FineTune.builder()
                    .model(model)
                    .tokenizer(tok)
                    .data(TestModels.pubmedSubset())
                    .template(PromptTemplate.instruction().withRolePrompt(null))
                    .output(out)
                    .lora(LoraConfig.of(8, 16, 0.05, List.of("q_proj", "v_proj"))) // the seed's adapter
                    .learningRate(1e-2)
                    .batchSize(8)
                    .gradientAccumulation(1)
                    .maxLength(256)
                    .schedule(Schedule.COSINE)
                    .warmupSteps(3)
                    .evalEvery(10)
                    .saveEvery(20)
                    .seed(1)
                    .onStep(s -> arrays.add(model.manager().getManagedArrays().size()))
                    .build()
                    .run();

            System.out.printf(
                    "PubMedQA: %d steps, held-out loss %.4f -> %.4f (best %.4f), train loss %.4f -> %.4f,"
                            + " %.0f tokens/s, %.1f s; %s%n",
                    r.steps(),
                    r.initialEvalLoss(),
                    r.evalLoss(),
                    r.bestEvalLoss(),
                    r.history().get(0).loss(),
                    r.trainLoss(),
                    r.tokensPerSecond(),
                    r.seconds(),
                    r.train());
            assertThat(r.heldOutTestQuestions()).isEqualTo(20);
            assertThat(r.train().examples() + r.eval().examples()).isEqualTo(300);
            assertThat(r.eval().examples()).isEqualTo(30);
            assertThat(r.steps()).isEqualTo(34); // ceil(270 / 8)
            assertThat(r.initialEvalLoss()).isGreaterThan(5.0); // ~ln(260) for random weights
            assertThat(r.evalLoss()).as("held-out loss after training").isLessThan(r.initialEvalLoss() - 1.0);

            // Native memory: every step frees what it allocated.
            assertThat(arrays.get(arrays.size() - 1))
                    .as("arrays alive after the last step vs after step 2")
                    .isEqualTo(arrays.get(1));

            // The adapter in training, on a held-out-like input, vs the saved one loaded on a fresh model.
            long[] ids = new long[40];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = 3 + (i * 7919L) % 256;
            }
            float[] trained = logits(model, ids);
            try (MistralModel fresh =
                    MistralModel.load(modelDir, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
                float[] base = logits(fresh, ids);
                LoraAdapter.apply(fresh, out, "reloaded");
                float[] reloaded = logits(fresh, ids);
                assertThat(reloaded).containsExactly(trained);
                assertThat(maxAbsDiff(base, trained))
                        .as("the adapter changed the model")
                        .isGreaterThan(1e-2);
            }
            assertThat(LoraAdapters.of(model).active()).contains("finetune");
        }

        // Files: PEFT adapter, best adapter, loss curve as CSV and PNG, the last checkpoint.
        assertThat(out.resolve("adapter_config.json")).exists();
        assertThat(out.resolve("adapter_model.safetensors")).exists();
        assertThat(out.resolve("best/adapter_model.safetensors")).exists();
        List<String> csv = Files.readAllLines(out.resolve("loss.csv"));
        assertThat(csv.get(0)).isEqualTo(LossCurve.CSV_HEADER);
        assertThat(csv).hasSize(35);
        assertThat(csv.get(10)).startsWith("10,").doesNotEndWith(",,"); // an evaluation row
        BufferedImage png = ImageIO.read(out.resolve("loss.png").toFile());
        assertThat(png.getWidth()).isEqualTo(900);
        assertThat(Checkpoints.list(out))
                .extracting(p -> p.getFileName().toString())
                .containsExactlyInAnyOrder("checkpoint-20", "checkpoint-34");
    }

    static float[] logits(MistralModel m, long[] ids) {
        try (NDScope scope = new NDScope()) {
            NDArray x = m.manager().create(ids, new Shape(1, ids.length));
            return m.forward(x, new int[1]).toFloatArray();
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }
}
