package ai.medqa.finetune;

import ai.medqa.io.CheckpointException;
import ai.medqa.io.SafetensorsFile;
import ai.medqa.io.TensorData;
import ai.medqa.io.TensorInfo;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraConfig;
import ai.medqa.lora.LoraException;
import ai.medqa.model.MistralModel;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Adapter helpers training needs beyond {@link LoraAdapter}'s own. */
final class Adapters {
    private Adapters() {}

    /** {@code config} with another {@code lora_dropout}. */
    static LoraConfig withDropout(LoraConfig c, double dropout) {
        return new LoraConfig(
                c.r(),
                c.loraAlpha(),
                dropout,
                c.targetModules(),
                c.targetModulesRegex(),
                c.excludeModules(),
                c.excludeModulesRegex(),
                c.useRslora(),
                c.rankPattern(),
                c.alphaPattern(),
                c.layersToTransform(),
                c.layersPattern(),
                c.baseModelNameOrPath(),
                c.taskType());
    }

    /** Reads the PEFT adapter in {@code dir} (not attached) with {@code lora_dropout} overridden. */
    static LoraAdapter read(MistralModel model, Path dir, String name, double dropout) {
        return read(model, dir, name, withDropout(LoraConfig.load(dir), dropout));
    }

    /** Reads the PEFT adapter weights in {@code dir} (not attached) under {@code config} (same shapes). */
    static LoraAdapter read(MistralModel model, Path dir, String name, LoraConfig config) {
        Path file = dir.resolve(LoraAdapter.WEIGHTS_FILE);
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (TensorInfo info : st.tensors().values()) {
                tensors.put(info.name(), new TensorData(info.dtype(), info.shape(), st.raw(info.name())));
            }
            return LoraAdapter.fromTensors(model, name, config, tensors, file.toString());
        } catch (CheckpointException e) {
            throw new LoraException(file + ": " + e.getMessage(), e);
        }
    }
}
