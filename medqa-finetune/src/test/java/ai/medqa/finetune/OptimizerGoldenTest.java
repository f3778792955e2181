package ai.medqa.finetune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * AdamW with weight decay, clip_grad_norm_ and the cosine warm-up schedule over 6 steps against
 * PyTorch + transformers ({@code tools/make_optim_golden.py} -> {@code optim_golden.json}).
 */
class OptimizerGoldenTest {
    private static JsonNode golden() throws IOException {
        return Json.MAPPER.readTree(Fixtures.resource("optim_golden.json").toFile());
    }

    @Test
    void schedulesAreTransformers() throws IOException {
        JsonNode s = golden().get("schedules");
        int warmup = s.get("warmup").asInt();
        int total = s.get("total").asInt();
        for (Schedule sch : Schedule.values()) {
            JsonNode expected = s.get(sch.name().toLowerCase(java.util.Locale.ROOT));
            for (int step = 0; step < total; step++) {
                assertThat(sch.factor(step, warmup, total))
                        .as("%s step %d", sch, step)
                        .isCloseTo(expected.get(step).asDouble(), within(1e-12));
            }
        }
    }

    @Test
    void sixStepsOfClippedAdamWWithWeightDecayAndCosineScheduleMatchPyTorch() throws IOException {
        JsonNode g = golden();
        JsonNode cfg = g.get("adamw");
        try (NDManager manager = NDManager.newBaseManager()) {
            List<NDArray> params = new ArrayList<>();
            for (JsonNode init : g.get("init")) {
                params.add(manager.create(
                        TrainStepCheck.floats(init, "init"),
                        new Shape(init.size(), init.get(0).size())));
            }
            LoraParameters lp = new LoraParameters(List.of("p1", "p2"), params);
            try (AdamW adamw = new AdamW(
                    params,
                    cfg.get("betas").get(0).asDouble(),
                    cfg.get("betas").get(1).asDouble(),
                    cfg.get("eps").asDouble(),
                    cfg.get("weight_decay").asDouble(),
                    manager)) {
                int step = 0;
                for (JsonNode st : g.get("steps")) {
                    // Gradients set to the golden's: d/dp sum(p * G) = G.
                    try (NDScope scope = new NDScope();
                            GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray loss = null;
                        for (int i = 0; i < params.size(); i++) {
                            NDArray grad = manager.create(
                                    TrainStepCheck.floats(st.get("grads").get(i), "grad"),
                                    params.get(i).getShape());
                            NDArray term = params.get(i).mul(grad).sum();
                            loss = loss == null ? term : loss.add(term);
                        }
                        gc.backward(loss);
                    }
                    double lr = cfg.get("lr").asDouble()
                            * Schedule.COSINE.factor(
                                    step,
                                    cfg.get("warmup").asInt(),
                                    cfg.get("total").asInt());
                    assertThat(lr)
                            .as("lr at step %d", step)
                            .isCloseTo(st.get("lr").asDouble(), within(1e-12));
                    double norm = lp.clipGradNorm(cfg.get("max_norm").asDouble());
                    assertThat(norm)
                            .as("grad norm at step %d", step)
                            .isCloseTo(
                                    st.get("grad_norm").asDouble(),
                                    within(1e-5 * st.get("grad_norm").asDouble()));
                    adamw.step(params, lr);
                    lp.zeroGradients();
                    for (int i = 0; i < params.size(); i++) {
                        float[] expected =
                                TrainStepCheck.floats(st.get("params_after").get(i), "after");
                        assertThat(TrainStepCheck.relativeError(params.get(i).toFloatArray(), expected))
                                .as("param %d after step %d", i, step)
                                .isLessThanOrEqualTo(1e-6);
                    }
                    step++;
                }
            }
        }
    }
}
