package ai.medqa.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Logits and greedy continuations against llama2.c's run.c (models A, B) and the numpy reference
 * mistral_ref.py (model C, sliding window 6), for every storage dtype of the same weights.
 */
class ForwardFidelityTest {

    static Stream<Arguments> fixtures() {
        return Stream.of(
                Arguments.of("llama-rc/A", "f32", 1e-3),
                Arguments.of("llama-rc/A", "bf16", 1e-3),
                Arguments.of("llama-rc/A", "f16", 1e-3),
                Arguments.of("llama-rc/B", "f32", 2e-3),
                Arguments.of("llama-rc/B", "bf16", 2e-3),
                Arguments.of("llama-rc/B", "f16", 2e-3),
                Arguments.of("mistral-swa", "f32", 1e-3),
                Arguments.of("mistral-swa", "bf16", 1e-3),
                Arguments.of("mistral-swa", "f16", 1e-3),
                Arguments.of("mistral-swa", "bf16-sharded", 1e-3));
    }

    @ParameterizedTest(name = "{0}/{1}")
    @MethodSource("fixtures")
    void promptLogitsAndGreedyMatchReference(String model, String storage, double tolerance) {
        Golden golden = Golden.read(Golden.fixture(model + "/golden.json"));
        Path dir = Golden.fixture(model + "/" + storage);
        try (MistralModel m = MistralModel.load(dir, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
            for (Golden.Case c : golden.cases()) {
                float[][] logits = Logits.prefillAll(m, c.prompt());
                assertClose(
                        logits, c.promptLogits(), tolerance, model + "/" + storage + " prompt " + c.prompt().length);

                float[][] stepwise = Logits.prefillOneByOne(m, c.prompt());
                assertClose(stepwise, c.promptLogits(), tolerance, model + " token-by-token");

                int[] greedy = Logits.greedy(m, c.prompt(), c.greedy().length);
                assertThat(greedy)
                        .as("%s/%s greedy after %d-token prompt", model, storage, c.prompt().length)
                        .containsExactly(c.greedy());
            }
        }
    }

    static void assertClose(float[][] actual, float[][] expected, double tolerance, String what) {
        assertThat(actual.length).as(what + " positions").isEqualTo(expected.length);
        for (int t = 0; t < actual.length; t++) {
            assertThat(actual[t].length).as(what + " vocab").isEqualTo(expected[t].length);
        }
        assertThat(Logits.maxAbsDiff(actual, expected))
                .as(what + ": max |logit - golden|")
                .isLessThanOrEqualTo(tolerance);
    }
}
