package ai.medqa.quant;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.common.Json;
import ai.medqa.model.Logits;
import ai.medqa.model.MistralModel;
import ai.medqa.quant.internal.Int4Linear;
import ai.medqa.quant.internal.Int8Linear;
import ai.medqa.quant.internal.Nf4Test;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code --lm-head int8|int4} on a model whose head is tied to its embedding (llama-rc/A): a
 * quantized copy of the embedding becomes the head and the embedding stays float32. The reference
 * is transformers with {@code lm_head} untied and set to the dequantized embedding, its input and
 * output rounded to bfloat16 as PyTorch's packed kernels round them
 * ({@code tools/make_packed_golden.py --tied-head}): the same numbers up to the order of the sums,
 * so one bfloat16 step of a logit is allowed. The float32 head's logits, and those of a head
 * quantized another way, are many steps away (printed).
 */
class LmHeadTest {

    @ParameterizedTest
    @ValueSource(strings = {"INT8", "INT4"})
    void tiedHeadIsAQuantizedCopyOfTheEmbedding(String head) throws IOException {
        JsonNode golden = Json.MAPPER.readTree(
                Nf4Test.resource("fixtures/golden_tied_head_transformers.json").toFile());
        JsonNode g = golden.get("heads").get(head.toLowerCase(java.util.Locale.ROOT));
        int[] prompt = Logits.ints(g.get("prompt"));
        float[][] reference = Logits.floats2(g.get("prompt_logits_bf16_head_io"));
        float[][] unrounded = Logits.floats2(g.get("prompt_logits_f32"));
        try (MistralModel m = MistralModel.load(
                Nf4Test.resource("fixtures/llama-rc/A/f32"),
                Device.cpu(),
                DataType.FLOAT32,
                Quantization.NONE.linears(64, LmHead.valueOf(head)))) {
            assertThat(m.projections().get("lm_head"))
                    .isInstanceOf(head.equals("INT8") ? Int8Linear.class : Int4Linear.class);
            float[][] ours = Logits.prefillAll(m, prompt);
            double worstSteps = 0;
            for (int t = 0; t < ours.length; t++) {
                for (int v = 0; v < ours[t].length; v++) {
                    // One bfloat16 step at the reference's magnitude: 2^-7 relative, 2^-133 at worst near zero.
                    double step = Math.max(Math.ulp(reference[t][v]) * 65536, 1e-6);
                    worstSteps = Math.max(worstSteps, Math.abs(ours[t][v] - reference[t][v]) / step);
                }
            }
            System.out.printf(
                    "[figure] tied lm_head %s: |ours - reference| = %.4f (%.2f bf16 steps), float32 logits of "
                            + "that head: %.4f away%n",
                    head, Logits.maxAbsDiff(ours, reference), worstSteps, Logits.maxAbsDiff(unrounded, reference));
            assertThat(worstSteps).as("%s head, in bfloat16 steps", head).isLessThanOrEqualTo(1.0);
        }
    }
}
