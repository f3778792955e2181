package ai.medqa.quant;

import ai.medqa.common.Json;
import ai.medqa.io.Checkpoint;
import ai.medqa.io.CheckpointException;
import ai.medqa.io.CheckpointRewriter;
import ai.medqa.io.DType;
import ai.medqa.io.TensorData;
import ai.medqa.io.TensorInfo;
import ai.medqa.model.GgufModel;
import ai.medqa.model.MistralConfig;
import ai.medqa.quant.internal.Int4Weight;
import ai.medqa.quant.internal.Int8Linear;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * INT4 and INT8 checkpoints: a Hugging Face folder whose projections are stored quantized, in a
 * layout that does not depend on any kernel (each device packs for its kernel at load).
 *
 * <ul>
 *   <li>INT4 ({@link Int4Weight}): {@code <module>.weight} U8 {@code [out, in / 2]}, two codes a
 *       byte, the even input in the high nibble (bitsandbytes' order); {@code <module>.weight_scale}
 *       and {@code <module>.weight_zero} BF16 {@code [out, in / group_size]}, with
 *       {@code w = (q - 8) * scale + zero}.
 *   <li>INT8 ({@link Int8Linear.Int8Weight}): {@code <module>.weight} I8 {@code [out, in]} and
 *       {@code <module>.weight_scale} BF16 {@code [out]}, with {@code w = q * scale}.
 *   <li>config.json: {@code "quantization_config": {"quant_method": "medqa", "format": "int4"|"int8",
 *       "group_size": 64}}. Embeddings, norms and {@code lm_head} are stored as in the source.
 * </ul>
 * Scales are bfloat16 values already (the quantizers round them), so storing them loses nothing:
 * a checkpoint reloads to exactly the weights quantizing on load gives.
 */
public final class PackedCheckpoint {
    private static final Logger log = LoggerFactory.getLogger(PackedCheckpoint.class);
    static final String METHOD = "medqa";

    private PackedCheckpoint() {}

    /** The format a checkpoint's {@code quantization_config} names ({@code int4}/{@code int8}), or null. */
    static String format(JsonNode q) {
        if (q == null || q.isNull() || !METHOD.equals(q.path("quant_method").asText())) {
            return null;
        }
        return q.path("format").asText();
    }

    /** Whether {@code module} is stored quantized by this format (it has a {@code weight_scale}). */
    static boolean isQuantized(Checkpoint c, String module) {
        return c.contains(module + ".weight_scale");
    }

    static Int4Weight readInt4(Checkpoint c, String module, long out, long in, int groupSize) {
        String name = module + ".weight";
        expect(c, name, DType.U8, out, in / 2);
        expect(c, module + ".weight_scale", DType.BF16, out, in / groupSize);
        expect(c, module + ".weight_zero", DType.BF16, out, in / groupSize);
        ByteBuffer packed = c.raw(name);
        byte[] q = new byte[Math.toIntExact(out * in)];
        for (int i = 0; i < q.length / 2; i++) {
            int b = packed.get(i) & 0xFF;
            q[2 * i] = (byte) (b >>> 4);
            q[2 * i + 1] = (byte) (b & 0x0F);
        }
        return new Int4Weight(
                new long[] {out, in},
                groupSize,
                q,
                c.readFloats(module + ".weight_scale"),
                c.readFloats(module + ".weight_zero"));
    }

    static Int8Linear.Int8Weight readInt8(Checkpoint c, String module, long out, long in) {
        String name = module + ".weight";
        expect(c, name, DType.I8, out, in);
        expect(c, module + ".weight_scale", DType.BF16, out);
        byte[] q = new byte[Math.toIntExact(out * in)];
        c.raw(name).get(q);
        return new Int8Linear.Int8Weight(new long[] {out, in}, q, c.readFloats(module + ".weight_scale"));
    }

    private static void expect(Checkpoint c, String name, DType dtype, long... shape) {
        if (!c.contains(name)) {
            throw new CheckpointException(c.directory() + ": tensor " + name + " is missing (a " + METHOD
                    + " quantized module stores weight and weight_scale)");
        }
        TensorInfo t = c.info(name);
        if (t.dtype() != dtype || !Arrays.equals(t.shape(), shape)) {
            throw new CheckpointException(c.directory() + ": tensor " + name + " is " + t.dtype() + " "
                    + Arrays.toString(t.shape()) + "; expected " + dtype + " " + Arrays.toString(shape));
        }
    }

    /** The tensors stored for one int4 module. */
    static Map<String, TensorData> tensors(String module, Int4Weight w) {
        long out = w.shape()[0];
        long in = w.shape()[1];
        ByteBuffer packed = ByteBuffer.allocate(w.q().length / 2);
        for (int i = 0; i < w.q().length / 2; i++) {
            packed.put((byte) (w.q()[2 * i] << 4 | w.q()[2 * i + 1]));
        }
        Map<String, TensorData> t = new LinkedHashMap<>();
        t.put(module + ".weight", new TensorData(DType.U8, new long[] {out, in / 2}, packed.flip()));
        long[] groups = {out, in / w.groupSize()};
        t.put(module + ".weight_scale", TensorData.ofFloats(DType.BF16, groups, w.scales()));
        t.put(module + ".weight_zero", TensorData.ofFloats(DType.BF16, groups, w.zeros()));
        return t;
    }

    static Map<String, TensorData> tensors(String module, Int8Linear.Int8Weight w) {
        Map<String, TensorData> t = new LinkedHashMap<>();
        t.put(module + ".weight", new TensorData(DType.I8, w.shape(), ByteBuffer.wrap(w.q())));
        t.put(module + ".weight_scale", TensorData.ofFloats(DType.BF16, new long[] {w.shape()[0]}, w.scale()));
        return t;
    }

    /**
     * Writes {@code source} to {@code target} with its projections in {@code format} (INT4 or INT8);
     * projections the int4 kernels cannot take (see {@link Int4Weight#packable}) stay as stored.
     * Streams tensor by tensor; the folder appears under its name only when complete.
     */
    public static void quantize(Path source, Path target, Quantization format, int groupSize) {
        if (format != Quantization.INT4 && format != Quantization.INT8) {
            throw new IllegalArgumentException("PackedCheckpoint writes int4 or int8, not " + format);
        }
        if (format == Quantization.INT4 && !Int4Weight.supportedGroupSize(groupSize)) {
            throw new IllegalArgumentException("int4 group size must be 32, 64, 128 or 256, got " + groupSize);
        }
        boolean gguf = GgufModel.is(source);
        MistralConfig config = gguf ? GgufModel.config(source) : MistralConfig.load(source);
        if (config.quantizationConfig() != null && !config.quantizationConfig().isNull()) {
            throw new CheckpointException(
                    source + "/config.json has a quantization_config: quantize a full-precision " + "checkpoint");
        }
        List<String> projections = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            for (String p : Nf4Checkpoint.PROJECTIONS) {
                projections.add("model.layers." + i + "." + p);
            }
        }
        CheckpointRewriter.TensorTransform transform = (name, c) -> {
            String module = name.endsWith(".weight") ? name.substring(0, name.length() - 7) : null;
            if (module == null || !projections.contains(module)) {
                return CheckpointRewriter.copy(name, c);
            }
            long[] shape = c.info(name).shape();
            if (format == Quantization.INT4 && !Int4Weight.packable(shape[0], shape[1], groupSize, false)) {
                log.warn("{} {}: not a shape the int4 kernels take; stored as is", module, Arrays.toString(shape));
                return CheckpointRewriter.copy(name, c);
            }
            if (module.endsWith("mlp.down_proj")) {
                log.info("quantized {} of {} layers", module, config.numHiddenLayers());
            }
            // A GGUF file's 4-bit blocks are INT4 groups of 32 already: their codes are kept, not requantized.
            GgufModel.Stored stored = GgufModel.stored(c, name);
            if (format == Quantization.INT4
                    && groupSize == 32
                    && stored != null
                    && GgufWeights.int4(stored.tensor().type())) {
                return tensors(module, GgufWeights.int4(stored, shape[0], shape[1]));
            }
            float[] w = c.readFloats(name);
            return format == Quantization.INT4
                    ? tensors(module, Int4Weight.quantize(w, shape[0], shape[1], groupSize))
                    : tensors(module, Int8Linear.Int8Weight.quantize(w, shape[0], shape[1]));
        };
        Consumer<ObjectNode> edit = json -> json.set("quantization_config", quantizationConfig(format, groupSize));
        if (gguf) {
            GgufModel.rewrite(source, target, transform, edit);
        } else {
            CheckpointRewriter.rewrite(source, target, transform, edit);
        }
    }

    static ObjectNode quantizationConfig(Quantization format, int groupSize) {
        ObjectNode q = Json.MAPPER.createObjectNode();
        q.put("quant_method", METHOD);
        q.put("format", format.name().toLowerCase(Locale.ROOT));
        if (format == Quantization.INT4) {
            q.put("group_size", groupSize);
        }
        return q;
    }
}
