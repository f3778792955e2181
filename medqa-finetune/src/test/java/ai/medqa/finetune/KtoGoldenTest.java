package ai.medqa.finetune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.medqa.common.Json;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraAdapters;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One KTO step against TRL 1.13's KTOTrainer ({@code tools/make_kto_golden.py}): a LoRA adapter on the
 * fixture model llama-rc/A, a batch of 4 examples (2 liked, 2 disliked) given as token ids, the KL term
 * from the batch's rotated completions (positive here, so it is exercised), the reference being the
 * base with the adapter disabled. The loss, the KL estimate and every LoRA gradient agree within 1e-5.
 */
class KtoGoldenTest {

    @Test
    void lossKlAndGradientsEqualTrls() throws Exception {
        JsonNode golden =
                Json.MAPPER.readTree(Fixtures.resource("kto/kto_golden.json").toFile());
        List<PreferenceLoss.Labeled> examples = new ArrayList<>();
        for (JsonNode e : golden.get("examples")) {
            examples.add(new PreferenceLoss.Labeled(
                    DpoGoldenTest.ints(e.get("prompt_ids")),
                    DpoGoldenTest.ints(e.get("completion_ids")),
                    e.get("label").asBoolean()));
        }
        int padId = golden.get("pad_token_id").asInt();
        try (MistralModel model = MistralModel.load(
                Fixtures.resource("fixtures/llama-rc/A/f32"), Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
            LoraAdapters lora = LoraAdapters.of(model);
            // The reference first, with no adapter attached: the base model, as in a run.
            float[] matched = PreferenceLoss.referenceLogps(
                    model, PreferenceLoss.labeledBatch(examples, padId), () -> {}, () -> {});
            float[] mismatched = PreferenceLoss.referenceLogps(
                    model, PreferenceLoss.klBatch(examples, padId, 1 << 20), () -> {}, () -> {});
            float[][] reference = new float[examples.size()][];
            for (int i = 0; i < reference.length; i++) {
                reference[i] = new float[] {matched[i], mismatched[i]};
            }
            LoraAdapter adapter = Adapters.read(model, Fixtures.resource("kto/adapter"), "policy", 0.0);
            lora.attach(adapter);
            lora.activate("policy");
            LoraParameters params = new LoraParameters(adapter);
            Objective kto =
                    Objective.kto(model, examples, reference, golden.get("beta").asDouble(), 1.0, 1.0, padId, 1 << 20);
            Objective.Micro micro = kto.micro(new int[] {0, 1, 2, 3});
            double kl = Objective.klEstimate(model, micro);
            System.out.printf(
                    "[figure] KTO KL estimate %.6f (TRL %.6f)%n",
                    kl, golden.at("/metrics/kl").asDouble());
            // A mean of differences of float32 sequence log-probabilities near -150: each carries ~1e-5 of
            // summation-order rounding, so the estimate is held to 1e-4 absolute (the loss below to 1e-5 relative).
            assertThat(kl).isCloseTo(golden.at("/metrics/kl").asDouble(), within(1e-4));
            try (NDScope scope = new NDScope();
                    GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                lora.setTraining(true);
                Batch b = micro.batch();
                NDArray ids = model.manager().create(b.ids(), new Shape(b.rows(), b.length()));
                NDArray logits = model.forward(ids, new int[b.rows()]);
                // TRL's logged rewards: beta times the mean log-probability ratio of the liked, and of the disliked.
                float[] policy = PreferenceLoss.sequenceLogps(logits, b).toFloatArray();
                double beta = golden.get("beta").asDouble();
                double[] rewards = new double[2];
                int[] counts = new int[2];
                for (int i = 0; i < policy.length; i++) {
                    int side = examples.get(i).desirable() ? 0 : 1;
                    rewards[side] += beta * (policy[i] - reference[i][0]);
                    counts[side]++;
                }
                assertThat(rewards[0] / counts[0])
                        .isCloseTo(golden.at("/metrics/rewards~1chosen").asDouble(), within(1e-5));
                assertThat(rewards[1] / counts[1])
                        .isCloseTo(golden.at("/metrics/rewards~1rejected").asDouble(), within(1e-5));
                NDArray sum = kto.lossSum(logits, micro);
                NDArray loss = CausalLmLoss.scale(sum, 1.0 / micro.units());
                gc.backward(loss);
                double ours = loss.getFloat();
                System.out.printf(
                        "[figure] KTO loss %.7f (TRL %.7f)%n",
                        ours, golden.get("loss").asDouble());
                assertThat(ours)
                        .isCloseTo(
                                golden.get("loss").asDouble(),
                                within(1e-5 * golden.get("loss").asDouble()));
                // The LoRA gradient as one vector within 1e-5 relative; each tensor within 3e-5 (the KL
                // estimate's float32 rounding, above, enters every coefficient of the gradient).
                double allDiff = 0;
                double allNorm = 0;
                for (int i = 0; i < params.names().size(); i++) {
                    JsonNode g = golden.get("grads").get(params.names().get(i));
                    float[] grad = params.arrays().get(i).getGradient().toFloatArray();
                    double diff = 0;
                    double norm = 0;
                    for (int k = 0; k < grad.length; k++) {
                        double ref = g.get("values").get(k).asDouble();
                        diff += (grad[k] - ref) * (grad[k] - ref);
                        norm += ref * ref;
                    }
                    allDiff += diff;
                    allNorm += norm;
                    assertThat(Math.sqrt(diff / norm))
                            .as(
                                    "relative error of the gradient of %s",
                                    params.names().get(i))
                            .isLessThanOrEqualTo(3e-5);
                }
                System.out.printf("[figure] KTO LoRA gradient relative error %.2e%n", Math.sqrt(allDiff / allNorm));
                assertThat(Math.sqrt(allDiff / allNorm))
                        .as("relative error of the whole LoRA gradient")
                        .isLessThanOrEqualTo(1e-5);
                assertThat(params.names()).hasSize(golden.get("grads").size());
            }
        }
    }
}
