package ai.medqa.finetune;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.io.SafetensorsFile;
import ai.medqa.lora.LoraConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Gradient accumulation, seeds and early stopping, on the small byte-level model. */
class TrainingBehaviourTest {
    @TempDir
    Path tmp;

    private static final List<Example> DATA =
            TrainingData.load(TestModels.pubmedSubset(), false).examples().subList(0, 24);

    private FineTune.Builder base(String out) {
        return FineTune.builder()
                .model(TestModels.pubmedModel())
                .examples(DATA)
                .template(PromptTemplate.instruction().withRolePrompt(null))
                .output(tmp.resolve(out))
                .lora(LoraConfig.of(4, 8, 0.0, List.of("q_proj", "v_proj")))
                .learningRate(5e-3)
                .maxLength(64)
                .evalFraction(0)
                .logEvery(0)
                .seed(5);
    }

    /** One batch of 4 = two of 2 accumulated = four of 1 accumulated: the loss is a mean over all tokens of the step. */
    @Test
    void accumulationEqualsALargerBatch() {
        FineTuneResult b4 =
                base("b4").batchSize(4).gradientAccumulation(1).build().run();
        FineTuneResult b2 =
                base("b2").batchSize(2).gradientAccumulation(2).build().run();
        FineTuneResult b1 =
                base("b1").batchSize(1).gradientAccumulation(4).build().run();
        assertThat(b4.steps()).isEqualTo(6);
        for (FineTuneResult other : List.of(b2, b1)) {
            for (int i = 0; i < 6; i++) {
                assertThat(other.history().get(i).loss())
                        .isCloseTo(b4.history().get(i).loss(), org.assertj.core.api.Assertions.within(1e-5));
            }
            assertThat(maxRelativeDifference(tmp.resolve("b4"), other.adapterDir()))
                    .isLessThan(1e-4);
        }
    }

    @Test
    void theSeedDecidesTheRun() {
        FineTuneResult a = base("a").batchSize(4).maxSteps(2).build().run();
        FineTuneResult same = base("same").batchSize(4).maxSteps(2).build().run();
        FineTuneResult other =
                base("other").batchSize(4).maxSteps(2).seed(6).build().run();
        assertThat(same.history().get(1).loss()).isEqualTo(a.history().get(1).loss());
        assertThat(other.history().get(1).loss())
                .isNotEqualTo(a.history().get(1).loss());
    }

    @Test
    void earlyStopAfterPatienceEvaluationsWithoutEnoughImprovement() {
        // Improvements must exceed 100 nats, so none after the first evaluation counts: with patience 2
        // and an evaluation every step, the run ends at step 3 of 9.
        FineTuneResult r = base("stop")
                .batchSize(2)
                .gradientAccumulation(1)
                .evalFraction(0.25)
                .evalEvery(1)
                .earlyStop(2, 100.0)
                .build()
                .run();
        assertThat(r.stoppedEarly()).isTrue();
        assertThat(r.steps()).isEqualTo(3);
        assertThat(r.history()).hasSize(3).allMatch(s -> s.totalSteps() == 9 && !Double.isNaN(s.evalLoss()));
        assertThat(r.bestEvalLoss()).isEqualTo(r.history().get(0).evalLoss());
        assertThat(r.adapterDir().resolve("best/adapter_model.safetensors")).exists();
        assertThat(Checkpoints.latest(r.adapterDir()))
                .hasValueSatisfying(
                        p -> assertThat(Checkpoints.readState(p).stoppedEarly()).isTrue());
    }

    /** build() takes a snapshot: changing the builder afterwards changes neither the run's settings nor its output. */
    @Test
    void aBuiltRunIgnoresLaterBuilderChanges() {
        FineTune.Builder builder = base("built").batchSize(4).maxSteps(2);
        FineTune run = builder.build();
        builder.output(tmp.resolve("changed")).maxSteps(5).seed(6);
        FineTuneResult r = run.run();
        FineTuneResult same = base("same").batchSize(4).maxSteps(2).build().run();
        assertThat(r.steps()).isEqualTo(2);
        assertThat(r.adapterDir()).isEqualTo(tmp.resolve("built"));
        assertThat(tmp.resolve("changed")).doesNotExist();
        assertThat(r.history().get(1).loss()).isEqualTo(same.history().get(1).loss());
    }

    private static double maxRelativeDifference(Path a, Path b) {
        try (SafetensorsFile x = SafetensorsFile.open(a.resolve("adapter_model.safetensors"));
                SafetensorsFile y = SafetensorsFile.open(b.resolve("adapter_model.safetensors"))) {
            double worst = 0;
            for (String name : x.tensors().keySet()) {
                worst = Math.max(worst, TrainStepCheck.relativeError(y.readFloats(name), x.readFloats(name)));
            }
            return worst;
        }
    }
}
