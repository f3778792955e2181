package ai.medqa.finetune;

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
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs the one optimisation step of {@code lora/train_step_golden.json} (PyTorch + PEFT) and compares
 * the loss, every LoRA gradient and every updated weight: the check that this module's training step
 * is PyTorch's. {@code medqa finetune --train-step-check DIR} prints its result.
 *
 * <p>{@code DIR} is a fixtures folder holding {@code lora/train_step_golden.json}, the adapter it names
 * ({@code lora/C-qv}) and model C ({@code mistral-swa/f32}); the {@code lora} folder itself is accepted too.
 */
public final class TrainStepCheck {
    private TrainStepCheck() {}

    /**
     * Errors relative to the golden's scale: for each tensor {@code max |ours - golden| / max |golden|},
     * the worst over all tensors.
     */
    public record Result(
            double loss,
            double goldenLoss,
            double lossRelativeError,
            double gradientRelativeError,
            String worstGradient,
            double weightRelativeError,
            String worstWeight,
            int tensors) {
        public boolean within(double tolerance) {
            return lossRelativeError <= tolerance
                    && gradientRelativeError <= tolerance
                    && weightRelativeError <= tolerance;
        }

        @Override
        public String toString() {
            return String.format(
                    Locale.ROOT,
                    "loss %.8f (golden %.8f, relative error %.2e); %d LoRA tensors: gradients max relative error"
                            + " %.2e (%s), updated weights %.2e (%s)",
                    loss,
                    goldenLoss,
                    lossRelativeError,
                    tensors,
                    gradientRelativeError,
                    worstGradient,
                    weightRelativeError,
                    worstWeight);
        }
    }

    public static Result run(Path dir) {
        return run(dir, () -> {});
    }

    /** As {@link #run(Path)}, calling {@code betweenForwardAndBackward} after the forward pass (tests). */
    static Result run(Path dir, Runnable betweenForwardAndBackward) {
        Path root = Files.exists(dir.resolve("train_step_golden.json"))
                ? dir.toAbsolutePath().getParent()
                : dir;
        JsonNode golden = readJson(root.resolve("lora/train_step_golden.json"));
        Path adapterDir = root.resolve(golden.get("adapter").asText());
        Path modelDir = root.resolve("mistral-swa/f32");
        int[] ids = ints(golden.get("input_ids"));
        int[] labels = ints(golden.get("labels"));
        JsonNode opt = golden.get("optimizer");

        try (MistralModel model = MistralModel.load(modelDir, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
            // The golden was made with lora_dropout=0.0 in train mode, so that the step is deterministic.
            LoraAdapter adapter = Adapters.read(model, adapterDir, "check", 0.0);
            LoraAdapters lora = LoraAdapters.of(model);
            lora.attach(adapter);
            lora.activate("check");
            lora.setTraining(true);
            LoraParameters params = new LoraParameters(adapter);
            Batch batch = Batch.single(ids, labels);
            float loss;
            try (NDScope scope = new NDScope()) {
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray input = model.manager().create(batch.ids(), new Shape(1, ids.length));
                    NDArray sum = CausalLmLoss.sum(model.forward(input, new int[1]), batch);
                    NDArray mean = CausalLmLoss.scale(sum, 1.0 / batch.targets());
                    betweenForwardAndBackward.run();
                    gc.backward(mean);
                    loss = mean.getFloat();
                }
            }
            Map<String, float[]> grads = new LinkedHashMap<>();
            for (int i = 0; i < params.names().size(); i++) {
                try (NDArray g = params.arrays().get(i).getGradient()) {
                    grads.put(params.names().get(i), g.toFloatArray());
                }
            }
            JsonNode betas = opt.get("betas");
            try (AdamW adamw = new AdamW(
                    params.arrays(),
                    betas.get(0).asDouble(),
                    betas.get(1).asDouble(),
                    opt.get("eps").asDouble(),
                    opt.get("weight_decay").asDouble(),
                    model.manager())) {
                adamw.step(params.arrays(), opt.get("lr").asDouble());
            }
            double gradErr = 0;
            double weightErr = 0;
            String worstGrad = "";
            String worstWeight = "";
            List<String> names = params.names();
            for (int i = 0; i < names.size(); i++) {
                // The golden uses torch's in-memory names, with the adapter name ("default").
                String torchName = names.get(i).replace(".weight", ".default.weight");
                double ge = relativeError(
                        grads.get(names.get(i)), floats(golden.get("grads").get(torchName), torchName));
                double we = relativeError(
                        params.arrays().get(i).toFloatArray(),
                        floats(golden.get("weights_after").get(torchName), torchName));
                if (ge >= gradErr) {
                    gradErr = ge;
                    worstGrad = names.get(i);
                }
                if (we >= weightErr) {
                    weightErr = we;
                    worstWeight = names.get(i);
                }
            }
            double goldenLoss = golden.get("loss").asDouble();
            return new Result(
                    loss,
                    goldenLoss,
                    Math.abs(loss - goldenLoss) / Math.abs(goldenLoss),
                    gradErr,
                    worstGrad,
                    weightErr,
                    worstWeight,
                    names.size());
        }
    }

    static double relativeError(float[] ours, float[] golden) {
        if (ours.length != golden.length) {
            throw new IllegalStateException("size " + ours.length + " vs golden " + golden.length);
        }
        double scale = 0;
        double diff = 0;
        for (int i = 0; i < ours.length; i++) {
            scale = Math.max(scale, Math.abs(golden[i]));
            diff = Math.max(diff, Math.abs(ours[i] - golden[i]));
        }
        return scale == 0 ? diff : diff / scale;
    }

    private static JsonNode readJson(Path file) {
        try {
            return Json.MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    /** A nested JSON array flattened in row-major order. */
    static float[] floats(JsonNode a, String name) {
        if (a == null) {
            throw new IllegalStateException("the golden has no tensor " + name);
        }
        ArrayList<Float> out = new ArrayList<>();
        flatten(a, out);
        float[] f = new float[out.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = out.get(i);
        }
        return f;
    }

    private static void flatten(JsonNode a, List<Float> out) {
        if (a.isArray()) {
            a.forEach(x -> flatten(x, out));
        } else {
            out.add((float) a.asDouble());
        }
    }
}
