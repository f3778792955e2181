package ai.medqa.finetune;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** One step on model C equals PyTorch + PEFT's: loss, all 16 LoRA gradients, all updated weights. */
class TrainStepGoldenTest {
    @Test
    void oneStepReproducesPyTorchAndPeft() {
        TrainStepCheck.Result r = TrainStepCheck.run(Fixtures.fixtures());
        System.out.println(r);
        assertThat(r.tensors()).isEqualTo(16);
        assertThat(r.lossRelativeError()).as("loss").isLessThanOrEqualTo(1e-4);
        assertThat(r.gradientRelativeError()).as("gradients, worst %s", r.worstGradient()).isLessThanOrEqualTo(1e-4);
        assertThat(r.weightRelativeError()).as("updated weights, worst %s", r.worstWeight()).isLessThanOrEqualTo(1e-4);
    }
}
