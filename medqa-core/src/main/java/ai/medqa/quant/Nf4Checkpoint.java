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
import ai.medqa.quant.internal.Nf4;
import ai.medqa.quant.internal.Nf4Weight;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * bitsandbytes' 4-bit safetensors layout, as transformers saves a {@code load_in_4bit} model. Per
 * projection {@code M}:
 * <pre>
 * M.weight                                  uint8 [n/2, 1]  packed codes
 * M.weight.absmax                           float32 [blocks], or uint8 [blocks] when double-quantized
 * M.weight.quant_map                        float32 [16]
 * M.weight.nested_absmax                    float32 [nested blocks]   (double quantization only)
 * M.weight.nested_quant_map                 float32 [256]             (double quantization only)
 * M.weight.quant_state.bitsandbytes__nf4    uint8: JSON {quant_type, blocksize, dtype, shape,
 *                                           nested_blocksize, nested_dtype, nested_offset}
 * </pre>
 * and {@code config.json} carries a {@code quantization_config} ({@code quant_method: bitsandbytes}).
 */
public final class Nf4Checkpoint {
    private static final Logger log = LoggerFactory.getLogger(Nf4Checkpoint.class);
    private static final ObjectMapper JSON = Json.MAPPER;
    static final String QUANT_STATE = ".weight.quant_state.bitsandbytes__nf4";
    /** Projections per decoder layer, in checkpoint order. */
    static final String[] PROJECTIONS = {
        "self_attn.q_proj",
        "self_attn.k_proj",
        "self_attn.v_proj",
        "self_attn.o_proj",
        "mlp.gate_proj",
        "mlp.up_proj",
        "mlp.down_proj"
    };
    /** Shard size of written checkpoints (transformers' default max_shard_size is 5 GB). */
    private Nf4Checkpoint() {}

    /** Whether {@code module} ({@code model.layers.0.self_attn.q_proj}) is stored 4-bit. */
    public static boolean isQuantized(Checkpoint c, String module) {
        if (c.contains(module + ".weight.quant_state.bitsandbytes__fp4")) {
            throw new CheckpointException(
                    c.directory() + ": " + module + " is bitsandbytes FP4; only NF4 4-bit checkpoints are supported");
        }
        return c.contains(module + QUANT_STATE);
    }

    /** Reads the 4-bit weight of {@code module}, checking it against the expected {@code [out, in]}. */
    public static Nf4Weight read(Checkpoint c, String module, long out, long in) {
        String w = module + ".weight";
        JsonNode state = quantState(c, module);
        String where = c.directory() + ": " + w + ".quant_state.bitsandbytes__nf4";
        if (!"nf4".equals(text(state, "quant_type", where))) {
            throw new CheckpointException(where + ": quant_type is " + state.get("quant_type") + ", expected \"nf4\"");
        }
        int blockSize = integer(state, "blocksize", where);
        JsonNode shapeNode = state.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new CheckpointException(where + ": has no \"shape\" array");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = shapeNode.get(i).asLong();
        }
        if (!Arrays.equals(shape, new long[] {out, in})) {
            throw new CheckpointException(
                    where + ": shape " + Arrays.toString(shape) + "; config.json implies [" + out + ", " + in + "]");
        }
        long n = out * in;
        byte[] packed = bytes(c, w, DType.U8, (n + 1) / 2);
        long blocks = (n + blockSize - 1) / blockSize;
        float[] quantMap = floats(c, w + ".quant_map", 16);
        String dtype = text(state, "dtype", where);
        if (!c.contains(w + ".nested_absmax")) {
            return new Nf4Weight(shape, blockSize, packed, quantMap, floats(c, w + ".absmax", blocks), null, dtype);
        }
        int nestedBlockSize = integer(state, "nested_blocksize", where);
        JsonNode offset = state.get("nested_offset");
        if (offset == null || !offset.isNumber()) {
            throw new CheckpointException(where + ": has nested_absmax but no numeric \"nested_offset\"");
        }
        byte[] q = bytes(c, w + ".absmax", DType.U8, blocks);
        long nestedBlocks = (blocks + nestedBlockSize - 1) / nestedBlockSize;
        Nf4Weight.Nested nested = new Nf4Weight.Nested(
                q,
                floats(c, w + ".nested_absmax", nestedBlocks),
                floats(c, w + ".nested_quant_map", 256),
                nestedBlockSize,
                (float) offset.asDouble());
        return new Nf4Weight(shape, blockSize, packed, quantMap, null, nested, dtype);
    }

    private static JsonNode quantState(Checkpoint c, String module) {
        String name = module + QUANT_STATE;
        ByteBuffer raw = c.raw(name);
        byte[] json = new byte[raw.remaining()];
        raw.get(json);
        try {
            JsonNode node = JSON.readTree(new String(json, StandardCharsets.UTF_8));
            if (node == null || !node.isObject()) {
                throw new CheckpointException(c.directory() + ": " + name + " does not hold a JSON object");
            }
            return node;
        } catch (IOException e) {
            throw new CheckpointException(
                    c.directory() + ": " + name + " does not hold valid JSON: " + e.getMessage(), e);
        }
    }

    private static String text(JsonNode state, String key, String where) {
        JsonNode v = state.get(key);
        if (v == null || !v.isTextual()) {
            throw new CheckpointException(where + ": has no string \"" + key + "\"");
        }
        return v.textValue();
    }

    private static int integer(JsonNode state, String key, String where) {
        JsonNode v = state.get(key);
        if (v == null || !v.canConvertToInt() || v.asInt() <= 0) {
            throw new CheckpointException(where + ": has no positive integer \"" + key + "\"");
        }
        return v.asInt();
    }

    private static byte[] bytes(Checkpoint c, String name, DType dtype, long count) {
        TensorInfo info = c.info(name);
        if (info.dtype() != dtype || info.numel() != count) {
            throw new CheckpointException(c.directory() + ": tensor " + name + " is " + info.dtype()
                    + Arrays.toString(info.shape()) + "; expected " + count + " values of " + dtype);
        }
        byte[] out = new byte[Math.toIntExact(count)];
        c.raw(name).get(out);
        return out;
    }

    private static float[] floats(Checkpoint c, String name, long count) {
        TensorInfo info = c.info(name);
        if (info.dtype() != DType.F32 || info.numel() != count) {
            throw new CheckpointException(c.directory() + ": tensor " + name + " is " + info.dtype()
                    + Arrays.toString(info.shape()) + "; expected " + count + " values of F32");
        }
        float[] out = new float[Math.toIntExact(count)];
        c.raw(name).asFloatBuffer().get(out);
        return out;
    }

    /** The tensors bitsandbytes saves for {@code module}, in its order. */
    public static Map<String, TensorData> tensors(String module, Nf4Weight w) {
        String p = module + ".weight";
        Map<String, TensorData> t = new LinkedHashMap<>();
        t.put(p, new TensorData(DType.U8, new long[] {w.packed().length, 1}, ByteBuffer.wrap(w.packed())));
        if (w.nested() == null) {
            t.put(p + ".absmax", f32(w.absmax()));
            t.put(p + ".quant_map", f32(w.quantMap()));
        } else {
            t.put(
                    p + ".absmax",
                    new TensorData(
                            DType.U8,
                            new long[] {w.nested().q().length},
                            ByteBuffer.wrap(w.nested().q())));
            t.put(p + ".quant_map", f32(w.quantMap()));
            t.put(p + ".nested_absmax", f32(w.nested().absmax()));
            t.put(p + ".nested_quant_map", f32(w.nested().quantMap()));
        }
        byte[] json = quantStateJson(w).getBytes(StandardCharsets.UTF_8);
        t.put(module + QUANT_STATE, new TensorData(DType.U8, new long[] {json.length}, ByteBuffer.wrap(json)));
        return t;
    }

    /** The quant state as Python's {@code json.dumps} writes it in bitsandbytes' {@code pack_dict_to_tensor}. */
    static String quantStateJson(Nf4Weight w) {
        StringBuilder s = new StringBuilder("{\"quant_type\": \"nf4\", \"blocksize\": ")
                .append(w.blockSize())
                .append(", \"dtype\": \"")
                .append(w.dtype())
                .append("\", \"shape\": [");
        long[] shape = w.shape();
        for (int i = 0; i < shape.length; i++) {
            s.append(i > 0 ? ", " : "").append(shape[i]);
        }
        s.append(']');
        if (w.nested() != null) {
            // Any decimal that parses back to the same float32 will do; Java's shortest double repr does.
            s.append(", \"nested_blocksize\": ")
                    .append(w.nested().blockSize())
                    .append(", \"nested_dtype\": \"float32\", \"nested_offset\": ")
                    .append(Double.toString(w.nested().offset()));
        }
        return s.append('}').toString();
    }

    private static TensorData f32(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return new TensorData(DType.F32, new long[] {v.length}, b);
    }

    /** transformers' {@code BitsAndBytesConfig(load_in_4bit=True, ...).to_dict()}. */
    static ObjectNode quantizationConfig(boolean doubleQuant, String computeDtype) {
        ObjectNode q = JSON.createObjectNode();
        q.put("quant_method", "bitsandbytes");
        q.put("_load_in_8bit", false);
        q.put("_load_in_4bit", true);
        q.put("llm_int8_threshold", 6.0);
        q.putNull("llm_int8_skip_modules");
        q.put("llm_int8_enable_fp32_cpu_offload", false);
        q.put("llm_int8_has_fp16_weight", false);
        q.put("bnb_4bit_quant_type", "nf4");
        q.put("bnb_4bit_use_double_quant", doubleQuant);
        q.put("bnb_4bit_compute_dtype", computeDtype);
        q.put("bnb_4bit_quant_storage", "uint8");
        q.put("load_in_4bit", true);
        q.put("load_in_8bit", false);
        return q;
    }

    /**
     * Checks a {@code quantization_config} (null: none) and returns the modules it keeps in 16 bits
     * besides {@code lm_head}.
     *
     * @throws CheckpointException for a quantization this reader does not handle, naming the field
     */
    public static List<String> checkConfig(JsonNode q, Path dir) {
        List<String> skip = new ArrayList<>();
        if (q == null || q.isNull()) {
            return skip;
        }
        String where = dir + "/config.json: quantization_config";
        String method = q.path("quant_method").asText("bitsandbytes");
        if (method.equals(PackedCheckpoint.METHOD)) {
            String format = q.path("format").asText();
            if (!format.equals("int4") && !format.equals("int8")) {
                throw new CheckpointException(where + ".format is \"" + format + "\"; expected int4 or int8");
            }
            if (format.equals("int4")
                    && !Int4Weight.supportedGroupSize(q.path("group_size").asInt(-1))) {
                throw new CheckpointException(
                        where + ".group_size is " + q.path("group_size") + "; expected 32, 64, 128 or 256");
            }
            return skip;
        }
        if (!method.equals("bitsandbytes")) {
            throw new CheckpointException(where + ".quant_method is \"" + method
                    + "\"; MedQA reads bitsandbytes 4-bit and its own int4/int8 (\"medqa\")");
        }
        if (q.path("load_in_8bit").asBoolean(false)) {
            throw new CheckpointException(
                    where + ".load_in_8bit is true; bitsandbytes 8-bit checkpoints are not supported"
                            + " (load the full-precision model with Quantization.INT8 instead)");
        }
        String type = q.path("bnb_4bit_quant_type").asText("nf4");
        if (!type.equals("nf4")) {
            throw new CheckpointException(where + ".bnb_4bit_quant_type is \"" + type + "\"; only nf4 is supported");
        }
        for (JsonNode m : q.path("llm_int8_skip_modules")) {
            skip.add(m.asText());
        }
        return skip;
    }

    /**
     * Writes {@code source} (a Hugging Face folder) to {@code target} as a bitsandbytes 4-bit
     * checkpoint: projections NF4, everything else as stored, {@code quantization_config} added to
     * config.json. Streams tensor by tensor; the folder appears under its name only when complete.
     *
     * @throws CheckpointException if {@code target} exists or a file cannot be written
     */
    public static void quantize(Path source, Path target, boolean doubleQuant) {
        boolean gguf = GgufModel.is(source);
        MistralConfig config = gguf ? GgufModel.config(source) : MistralConfig.load(source);
        List<String> quantized = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            for (String p : PROJECTIONS) {
                quantized.add("model.layers." + i + "." + p);
            }
        }
        CheckpointRewriter.TensorTransform transform = (name, c) -> {
            String module = name.endsWith(".weight") ? name.substring(0, name.length() - 7) : null;
            if (module == null || !quantized.contains(module) || isQuantized(c, module)) {
                return CheckpointRewriter.copy(name, c);
            }
            TensorInfo info = c.info(name);
            Nf4Weight w = Nf4.quantize(c.readFloats(name), info.shape(), doubleQuant, torchName(info.dtype()));
            if (module.endsWith("mlp.down_proj")) {
                log.info("quantized {} of {} layers", module, config.numHiddenLayers());
            }
            return tensors(module, w);
        };
        Consumer<ObjectNode> edit = json -> {
            String dtype = json.path("torch_dtype").asText(json.path("dtype").asText("float16"));
            json.set(
                    "quantization_config",
                    quantizationConfig(doubleQuant, dtype.equals("float32") ? "float32" : "float16"));
        };
        if (gguf) {
            GgufModel.rewrite(source, target, transform, edit);
        } else {
            CheckpointRewriter.rewrite(source, target, transform, edit);
        }
    }

    static String torchName(DType d) {
        return switch (d) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            case F32 -> "float32";
            default -> throw new IllegalArgumentException("cannot quantize a " + d + " tensor");
        };
    }
}
