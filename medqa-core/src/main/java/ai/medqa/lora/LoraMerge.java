package ai.medqa.lora;

import ai.medqa.io.CheckpointException;
import ai.medqa.io.CheckpointRewriter;
import ai.medqa.io.DType;
import ai.medqa.io.SafetensorsFile;
import ai.medqa.io.TensorData;
import ai.medqa.io.TensorInfo;
import ai.medqa.model.MistralConfig;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a checkpoint with a LoRA adapter merged in, {@code W + scaling * B A} for every adapted
 * projection, as PEFT's {@code merge_and_unload().save_pretrained()} does. Works on the files, tensor
 * by tensor, without loading the model into DJL, so a 7B checkpoint needs memory for one shard, not
 * for the model. The merge is computed in float32 and rounded once to the base's storage dtype.
 */
public final class LoraMerge {
    private static final Logger log = LoggerFactory.getLogger(LoraMerge.class);

    private LoraMerge() {}

    /**
     * Merges {@code adapterDir} into {@code baseDir}, writing {@code target} (which must not exist).
     *
     * @throws LoraException if the adapter does not fit the base (naming the key) or the base is
     *     quantized
     */
    public static void write(Path baseDir, Path adapterDir, Path target) {
        MistralConfig model = MistralConfig.load(baseDir);
        if (model.quantizationConfig() != null) {
            throw new LoraException(baseDir + ": config.json has a quantization_config; merge into the full-precision "
                    + "checkpoint instead (merging into 4-bit weights would round the adapter away)");
        }
        LoraConfig config = LoraConfig.load(adapterDir);
        Path file = adapterDir.resolve(LoraAdapter.WEIGHTS_FILE);
        Map<String, float[]> a = new LinkedHashMap<>();
        Map<String, float[]> b = new LinkedHashMap<>();
        Map<String, Projection> targeted;
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Map<String, TensorData> tensors = new LinkedHashMap<>();
            for (TensorInfo info : st.tensors().values()) {
                tensors.put(info.name(), new TensorData(info.dtype(), info.shape(), st.raw(info.name())));
            }
            targeted = LoraAdapter.check(model, config, tensors, file.toString());
            for (String module : targeted.keySet()) {
                a.put(module, st.readFloats(LoraAdapter.key(module, "A")));
                b.put(module, st.readFloats(LoraAdapter.key(module, "B")));
            }
        } catch (CheckpointException e) {
            throw new LoraException(file + ": " + e.getMessage(), e);
        }
        Set<String> merged = new HashSet<>();
        CheckpointRewriter.rewrite(
                baseDir,
                target,
                (name, c) -> {
                    String module =
                            name.endsWith(".weight") ? name.substring(0, name.length() - ".weight".length()) : "";
                    Projection p = targeted.get(module);
                    if (p == null) {
                        return CheckpointRewriter.copy(name, c);
                    }
                    TensorInfo info = c.info(name);
                    if (info.dtype() != DType.F32 && info.dtype() != DType.F16 && info.dtype() != DType.BF16) {
                        throw new LoraException(c.directory() + ": tensor " + name + " is " + info.dtype()
                                + "; LoRA merges into F32, F16 or BF16 weights only");
                    }
                    float[] w = c.readFloats(name);
                    addScaledProduct(
                            w, b.get(module), a.get(module), (int) p.out(), config.rank(module), (int) p.in(), (float)
                                    config.scaling(module));
                    merged.add(module);
                    return Map.of(name, TensorData.ofFloats(info.dtype(), info.shape(), w));
                },
                json -> {});
        if (merged.size() != targeted.size()) {
            Set<String> missing = new HashSet<>(targeted.keySet());
            missing.removeAll(merged);
            throw new LoraException(
                    baseDir + ": the checkpoint has no weight for " + missing + " that " + file + " adapts");
        }
        log.info("merged {} ({} projections) into {} -> {}", adapterDir, merged.size(), baseDir, target);
    }

    /** {@code w[out][in] += s * sum_k b[out][k] a[k][in]}, accumulated in float32 per element. */
    static void addScaledProduct(float[] w, float[] b, float[] a, int out, int r, int in, float s) {
        float[] row = new float[in];
        for (int o = 0; o < out; o++) {
            Arrays.fill(row, 0f);
            for (int k = 0; k < r; k++) {
                float bk = b[o * r + k];
                int ak = k * in;
                for (int i = 0; i < in; i++) {
                    row[i] += bk * a[ak + i];
                }
            }
            int wo = o * in;
            for (int i = 0; i < in; i++) {
                w[wo + i] += s * row[i];
            }
        }
    }
}
