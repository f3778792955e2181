package ai.medqa.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
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
                Arguments.of("llama-rc/A", "f32", 1e-3), Arguments.of("llama-rc/A", "bf16", 1e-3),
                Arguments.of("llama-rc/A", "f16", 1e-3),
                Arguments.of("llama-rc/B", "f32", 2e-3), Arguments.of("llama-rc/B", "bf16", 2e-3),
                Arguments.of("llama-rc/B", "f16", 2e-3),
                Arguments.of("mistral-swa", "f32", 1e-3), Arguments.of("mistral-swa", "bf16", 1e-3),
                Arguments.of("mistral-swa", "f16", 1e-3), Arguments.of("mistral-swa", "bf16-sharded", 1e-3));
    }

    @ParameterizedTest(name = "{0}/{1}")
    @MethodSource("fixtures")
    void promptLogitsAndGreedyMatchReference(String model, String storage, double tolerance) {
        Golden golden = Golden.read(Golden.fixture(model + "/golden.json"));
        Path dir = Golden.fixture(model + "/" + storage);
        try (MistralModel m = MistralModel.load(dir, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
            for (Golden.Case c : golden.cases()) {
                float[][] logits = prefillAll(m, c.prompt());
                assertClose(logits, c.promptLogits(), tolerance, model + "/" + storage + " prompt " + c.prompt().length);

                float[][] stepwise = prefillOneByOne(m, c.prompt());
                assertClose(stepwise, c.promptLogits(), tolerance, model + " token-by-token");

                int[] greedy = greedy(m, c.prompt(), c.greedy().length);
                assertThat(greedy).as("%s/%s greedy after %d-token prompt", model, storage, c.prompt().length)
                        .containsExactly(c.greedy());
            }
        }
    }

    static float[][] prefillAll(MistralModel m, int[] prompt) {
        try (KvCache cache = m.newCache(prompt.length); NDScope scope = new NDScope()) {
            NDArray logits = m.forward(new int[][] {prompt}, cache, true);
            float[] flat = logits.toFloatArray();
            int v = m.config().vocabSize();
            float[][] rows = new float[prompt.length][v];
            for (int t = 0; t < prompt.length; t++) {
                System.arraycopy(flat, t * v, rows[t], 0, v);
            }
            return rows;
        }
    }

    static float[][] prefillOneByOne(MistralModel m, int[] prompt) {
        float[][] rows = new float[prompt.length][];
        try (KvCache cache = m.newCache(prompt.length)) {
            for (int t = 0; t < prompt.length; t++) {
                try (NDScope scope = new NDScope()) {
                    rows[t] = m.forward(new int[][] {{prompt[t]}}, cache, false).toFloatArray();
                }
            }
        }
        return rows;
    }

    static int[] greedy(MistralModel m, int[] prompt, int steps) {
        int[] out = new int[steps];
        try (KvCache cache = m.newCache(prompt.length + steps)) {
            int[] feed = prompt;
            for (int s = 0; s < steps; s++) {
                try (NDScope scope = new NDScope()) {
                    float[] logits = m.forward(new int[][] {feed}, cache, false).toFloatArray();
                    out[s] = argmax(logits);
                }
                feed = new int[] {out[s]};
            }
        }
        return out;
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    static double maxAbsDiff(float[][] a, float[][] b) {
        double max = 0;
        for (int t = 0; t < a.length; t++) {
            for (int i = 0; i < a[t].length; i++) {
                max = Math.max(max, Math.abs(a[t][i] - b[t][i]));
            }
        }
        return max;
    }

    static void assertClose(float[][] actual, float[][] expected, double tolerance, String what) {
        assertThat(actual.length).as(what + " positions").isEqualTo(expected.length);
        for (int t = 0; t < actual.length; t++) {
            assertThat(actual[t].length).as(what + " vocab").isEqualTo(expected[t].length);
        }
        assertThat(maxAbsDiff(actual, expected)).as(what + ": max |logit - golden|").isLessThanOrEqualTo(tolerance);
    }
}
