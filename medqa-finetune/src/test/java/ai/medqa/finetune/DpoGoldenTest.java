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
 * One DPO step against TRL 1.13's DPOTrainer ({@code tools/make_dpo_golden.py}): a LoRA adapter on the
 * fixture model llama-rc/A, a batch of 4 pairs given as token ids, the reference being the base with
 * the adapter disabled. The loss, the mean rewards and every LoRA gradient agree within 1e-5 relative.
 */
class DpoGoldenTest {

    @Test
    void lossRewardsAndGradientsEqualTrls() throws Exception {
        JsonNode golden =
                Json.MAPPER.readTree(Fixtures.resource("dpo/dpo_golden.json").toFile());
        List<PreferenceLoss.Pair> pairs = new ArrayList<>();
        for (JsonNode e : golden.get("examples")) {
            pairs.add(new PreferenceLoss.Pair(
                    ints(e.get("prompt_ids")), ints(e.get("chosen_ids")), ints(e.get("rejected_ids"))));
        }
        double beta = golden.get("beta").asDouble();
        try (MistralModel model = MistralModel.load(
                Fixtures.resource("fixtures/llama-rc/A/f32"), Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
            LoraAdapters lora = LoraAdapters.of(model);
            LoraAdapter adapter = Adapters.read(model, Fixtures.resource("dpo/adapter"), "policy", 0.0);
            lora.attach(adapter);
            lora.activate("policy");
            LoraParameters params = new LoraParameters(adapter);
            Batch batch = PreferenceLoss.batch(pairs, golden.get("pad_token_id").asInt());
            float[] reference = PreferenceLoss.referenceLogps(
                    model, batch, () -> lora.activate(null), () -> lora.activate("policy"));
            try (NDScope scope = new NDScope();
                    GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                lora.setTraining(true);
                NDArray ids = model.manager().create(batch.ids(), new Shape(batch.rows(), batch.length()));
                NDArray policy = PreferenceLoss.sequenceLogps(model.forward(ids, new int[batch.rows()]), batch);
                PreferenceLoss.Dpo dpo = PreferenceLoss.dpo(policy, reference, beta);
                gc.backward(dpo.loss());
                double loss = dpo.loss().getFloat();
                System.out.printf(
                        "[figure] DPO loss %.7f (TRL %.7f), rewards chosen %.6f rejected %.6f%n",
                        loss, golden.get("loss").asDouble(), mean(dpo.chosenRewards()), mean(dpo.rejectedRewards()));
                assertThat(loss)
                        .isCloseTo(
                                golden.get("loss").asDouble(),
                                within(1e-5 * golden.get("loss").asDouble()));
                assertThat(mean(dpo.chosenRewards()))
                        .isCloseTo(golden.get("rewards_chosen_mean").asDouble(), within(1e-5));
                assertThat(mean(dpo.rejectedRewards()))
                        .isCloseTo(golden.get("rewards_rejected_mean").asDouble(), within(1e-5));
                int checked = 0;
                for (int i = 0; i < params.names().size(); i++) {
                    JsonNode g = golden.get("grads").get(params.names().get(i));
                    assertThat(g).as(params.names().get(i)).isNotNull();
                    float[] ours = params.arrays().get(i).getGradient().toFloatArray();
                    double diff = 0;
                    double norm = 0;
                    for (int k = 0; k < ours.length; k++) {
                        double ref = g.get("values").get(k).asDouble();
                        diff += (ours[k] - ref) * (ours[k] - ref);
                        norm += ref * ref;
                    }
                    assertThat(Math.sqrt(diff / norm))
                            .as(
                                    "relative error of the gradient of %s",
                                    params.names().get(i))
                            .isLessThanOrEqualTo(1e-5);
                    checked++;
                }
                assertThat(checked).isEqualTo(golden.get("grads").size());
            }
        }
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    static double mean(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s / v.length;
    }
}
