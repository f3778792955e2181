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
        assertThat(r.gradientRelativeError())
                .as("gradients, worst %s", r.worstGradient())
                .isLessThanOrEqualTo(1e-4);
        assertThat(r.weightRelativeError())
                .as("updated weights, worst %s", r.worstWeight())
                .isLessThanOrEqualTo(1e-4);
    }

    /**
     * The same step with a garbage collection and 20,000 scalar allocations between forward and
     * backward: every scalar a recorded operation multiplies by must still be alive for the backward
     * pass (DJL's {@code mul(Number)} frees its scalar at once; see {@code CausalLmLoss.scale}).
     */
    @Test
    void aGarbageCollectionBetweenForwardAndBackwardChangesNothing() {
        TrainStepCheck.Result r = TrainStepCheck.run(Fixtures.fixtures(), () -> {
            System.gc();
            try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
                for (int i = 0; i < 20_000; i++) {
                    try (ai.djl.ndarray.NDArray junk = m.create(-777f)) {
                        junk.getFloat();
                    }
                }
            }
            System.gc();
        });
        assertThat(r.gradientRelativeError())
                .as("gradients, worst %s", r.worstGradient())
                .isLessThanOrEqualTo(1e-4);
        assertThat(r.weightRelativeError()).as("updated weights").isLessThanOrEqualTo(1e-4);
    }
}
