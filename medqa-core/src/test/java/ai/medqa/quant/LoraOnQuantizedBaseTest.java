package ai.medqa.quant;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraAdapters;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.Logits;
import ai.medqa.model.MistralModel;
import ai.medqa.quant.internal.Int8Linear;
import ai.medqa.quant.internal.Nf4;
import ai.medqa.quant.internal.Nf4Test;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A PEFT adapter on a quantized base ({@code W x + scaling B A x} with W in NF4 or INT8) gives the
 * logits of the same adapter on a dense base holding the quantized weights dequantized once by the
 * plain-Java reference: the adapter adds the same term whatever holds W. Inference is held so for
 * NF4 (float32 activations); INT8's inference kernel rounds activations to bfloat16 and is held to
 * transformers by {@code PackedKernelFidelityTest}. The training route (gradients recorded: the
 * base dequantized with DJL ops, the adapter's delta differentiable) is held so for both.
 */
class LoraOnQuantizedBaseTest {

    static Stream<Arguments> bases() {
        return Stream.of(
                Arguments.of(
                        "NF4",
                        QuantizedLinears.nf4(true),
                        QuantizedModelTest.javaDequantized(
                                w -> Nf4.dequantize(Nf4.quantize(w.values(), w.shape(), true, "bfloat16")))),
                Arguments.of(
                        "INT8",
                        QuantizedLinears.int8(),
                        QuantizedModelTest.javaDequantized(
                                w -> Int8Linear.Int8Weight.quantize(w.values(), w.shape()[0], w.shape()[1])
                                        .dequantize())));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bases")
    void adapterOnAQuantizedBaseEqualsAdapterOnItsDequantizedWeights(
            String name, LinearFactory quantized, LinearFactory reference) {
        Path dir = Nf4Test.resource("fixtures/mistral-swa/bf16");
        Path adapterDir = Nf4Test.resource("fixtures/lora/C-all");
        int[] prompt = {1, 87, 35, 79, 52, 3, 40, 232, 137, 159, 254, 122, 78, 175, 220, 89, 207, 48, 63, 104};
        try (MistralModel q = MistralModel.load(dir, Device.cpu(), DataType.FLOAT32, quantized);
                MistralModel ref = MistralModel.load(dir, Device.cpu(), DataType.FLOAT32, reference);
                LoraAdapter onQuantized = LoraAdapter.apply(q, adapterDir, "all");
                LoraAdapter onReference = LoraAdapter.apply(ref, adapterDir, "all")) {
            float[][] adapted = Logits.prefillAll(ref, prompt);
            double training = Logits.maxAbsDiff(trainingRoute(q, prompt), adapted);
            System.out.printf(
                    "[figure] %s base: training route with adapter vs reference %.2e, inference %.2e%n",
                    name, training, Logits.maxAbsDiff(Logits.prefillAll(q, prompt), adapted));
            assertThat(training)
                    .as(name + " training route with adapter vs reference")
                    .isLessThanOrEqualTo(1e-3);
            if (name.equals("NF4")) {
                assertThat(Logits.maxAbsDiff(Logits.prefillAll(q, prompt), adapted))
                        .as(name + " with adapter vs reference")
                        .isLessThanOrEqualTo(1e-3);
                assertThat(Logits.greedy(q, prompt, 10))
                        .as(name + " greedy")
                        .containsExactly(Logits.greedy(ref, prompt, 10));
            }
            // The adapter does act on the quantized model: switching it off moves the logits.
            LoraAdapters.of(q).activate(null);
            assertThat(Logits.maxAbsDiff(Logits.prefillAll(q, prompt), adapted))
                    .as(name + " without adapter")
                    .isGreaterThan(0.1);
            assertThat(Logits.maxAbsDiff(trainingRoute(q, prompt), adapted))
                    .as(name + " training route without adapter")
                    .isGreaterThan(0.1);
        }
    }

    private static float[][] trainingRoute(MistralModel m, int[] prompt) {
        return QuantizedModelTest.trainingRoute(m, prompt);
    }
}
