package ai.medqa.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * F16 compute. Its error against the float32 goldens is set by half precision, not by us, so the
 * yardstick is transformers itself run in float16 on the same weights
 * ({@code fixtures/golden_f16_transformers.json}, made by {@code tools/make_f16_golden.py}):
 * <ul>
 *   <li>our error against the float32 golden may be at most 1.25x transformers' own float16 error
 *       on the same case (measured: 0.52/0.47 on A's 20-token prompt is the worst ratio, 1.12);
 *   <li>our logits and transformers' float16 logits, two float16 paths with different summation
 *       orders, agree within 0.5 (about 2^-8 of the largest logit, 112; measured at most 0.32);
 *   <li>the greedy continuations equal the float32 goldens token for token.
 * </ul>
 */
class F16FidelityTest {

    @ParameterizedTest
    @ValueSource(strings = {"llama-rc/A", "llama-rc/B", "mistral-swa"})
    void f16ComputeIsAsCloseAsTransformersF16(String model) throws IOException {
        JsonNode reference = Json.MAPPER
                .readTree(Golden.fixture("golden_f16_transformers.json").toFile())
                .get("models")
                .get(model);
        Golden golden32 = Golden.read(Golden.fixture(model + "/golden.json"));
        try (MistralModel m = MistralModel.load(
                Golden.fixture(model + "/f16"), Device.cpu(), DataType.FLOAT16, LinearFactory.DENSE)) {
            for (int i = 0; i < golden32.cases().size(); i++) {
                Golden.Case c = golden32.cases().get(i);
                float[][] hf16 = Logits.floats2(reference.get(i).get("prompt_logits"));
                float[][] ours = Logits.prefillAll(m, c.prompt());
                double hfError = Logits.maxAbsDiff(hf16, c.promptLogits());
                double ourError = Logits.maxAbsDiff(ours, c.promptLogits());
                assertThat(ourError)
                        .as(
                                "%s prompt %d: F16 error vs float32 golden (transformers F16: %.3f)",
                                model, c.prompt().length, hfError)
                        .isLessThanOrEqualTo(1.25 * hfError);
                assertThat(Logits.maxAbsDiff(ours, hf16))
                        .as("%s: ours vs transformers F16", model)
                        .isLessThanOrEqualTo(0.5);
                assertThat(Logits.greedy(m, c.prompt(), c.greedy().length))
                        .as("%s F16 greedy", model)
                        .containsExactly(c.greedy());
            }
        }
    }
}
