package ai.medqa.spark;

import ai.medqa.MedQA;
import ai.medqa.quant.LmHead;
import ai.medqa.quant.Quantization;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * How executors load the model: a folder every executor sees (a shared file system or the same path
 * on each node), its format on load and the LoRA adapters by name. Executors keep one {@link MedQA}
 * per distinct spec, so equal specs share a model.
 *
 * @param modelDir a Hugging Face model folder, as a path each executor can read
 * @param device {@code cpu}, {@code cuda} or {@code cuda:N}
 * @param loras adapter name to PEFT adapter folder, in load order
 */
public record ModelSpec(
        String modelDir,
        String device,
        MedQA.Precision precision,
        Quantization quantization,
        int groupSize,
        LmHead lmHead,
        Map<String, String> loras)
        implements Serializable {
    private static final long serialVersionUID = 1L;

    public ModelSpec {
        Objects.requireNonNull(modelDir, "modelDir");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(precision, "precision");
        Objects.requireNonNull(quantization, "quantization");
        Objects.requireNonNull(lmHead, "lmHead");
        // Serializable and ordered whatever map the caller passed.
        loras = Collections.unmodifiableMap(new LinkedHashMap<>(loras));
    }

    /** A model folder with MedQA's defaults: CPU, F32, not quantized, no adapters. */
    public static ModelSpec of(String modelDir) {
        return new ModelSpec(modelDir, "cpu", MedQA.Precision.F32, Quantization.NONE, 64, LmHead.COMPUTE, Map.of());
    }

    public ModelSpec withDevice(String device) {
        return new ModelSpec(modelDir, device, precision, quantization, groupSize, lmHead, loras);
    }

    public ModelSpec withPrecision(MedQA.Precision precision) {
        return new ModelSpec(modelDir, device, precision, quantization, groupSize, lmHead, loras);
    }

    /** As {@link MedQA.Builder#quantize}; {@code groupSize} applies to INT4. */
    public ModelSpec withQuantization(Quantization quantization, int groupSize, LmHead lmHead) {
        return new ModelSpec(modelDir, device, precision, quantization, groupSize, lmHead, loras);
    }

    /** Adds a LoRA adapter folder under {@code name}. */
    public ModelSpec withLora(String name, String adapterDir) {
        Map<String, String> more = new LinkedHashMap<>(loras);
        if (more.putIfAbsent(name, adapterDir) != null) {
            throw new IllegalArgumentException("two LoRA adapters named \"" + name + "\"");
        }
        return new ModelSpec(modelDir, device, precision, quantization, groupSize, lmHead, more);
    }

    /** {@code F32}, {@code F16} or {@code BF16}, case-insensitive. */
    static MedQA.Precision precision(String name) {
        try {
            return MedQA.Precision.valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown precision \"" + name + "\"; expected F32, F16 or BF16");
        }
    }

    /** Loads the model (what an executor does once per spec). */
    MedQA load() {
        MedQA.Builder b = MedQA.builder()
                .model(Path.of(modelDir))
                .device(device)
                .precision(precision)
                .quantize(quantization)
                .lmHead(lmHead);
        if (quantization == Quantization.INT4) {
            b.groupSize(groupSize);
        }
        loras.forEach((name, dir) -> b.lora(name, Path.of(dir)));
        return b.build();
    }
}
