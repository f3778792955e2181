package ai.medqa.model;

import ai.medqa.io.Checkpoint;
import ai.medqa.io.CheckpointException;
import ai.medqa.io.CheckpointRewriter;
import ai.medqa.io.DType;
import ai.medqa.io.GgufFile;
import ai.medqa.io.TensorInfo;
import ai.medqa.io.TensorSource;
import ai.medqa.tokenizer.GgufTokenizer;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A Mistral/Llama model in a GGUF file (architecture {@code llama}, as llama.cpp's converter writes
 * Mistral): its {@link MistralConfig} from the file's metadata and its tensors under the Hugging Face
 * checkpoint's names, dequantized to float32 as ggml does, with the row order of q/k that llama.cpp's
 * converter permutes for its rotary layout put back. The model then loads like a safetensors
 * checkpoint (and is quantized to MedQA's formats as asked).
 */
public final class GgufModel {
    private GgufModel() {}

    /** Whether {@code path} is a GGUF file. */
    public static boolean is(Path path) {
        return path.getFileName() != null && Files.isRegularFile(path) && GgufFile.isGguf(path);
    }

    /** The configuration the file's metadata describes. */
    public static MistralConfig config(GgufFile f) {
        String arch = f.string("general.architecture");
        if (!arch.equals("llama") && !arch.equals("mistral")) {
            throw new CheckpointException(f.path() + ": architecture \"" + arch + "\" is not supported (MedQA runs "
                    + "\"llama\", as llama.cpp writes Mistral and Llama models)");
        }
        String p = arch + ".";
        if (f.has(p + "rope.scaling.type") && !"none".equals(f.metadata().get(p + "rope.scaling.type"))) {
            throw new CheckpointException(f.path() + ": metadata " + p + "rope.scaling.type is \""
                    + f.metadata().get(p + "rope.scaling.type") + "\"; only plain RoPE is supported");
        }
        int hidden = (int) f.integer(p + "embedding_length");
        int heads = (int) f.integer(p + "attention.head_count");
        int kvHeads = f.has(p + "attention.head_count_kv") ? (int) f.integer(p + "attention.head_count_kv") : heads;
        int headDim = f.has(p + "attention.key_length") ? (int) f.integer(p + "attention.key_length") : hidden / heads;
        long[] embd = f.tensor("token_embd.weight").shape();
        int window = f.has(p + "attention.sliding_window") ? (int) f.integer(p + "attention.sliding_window") : 0;
        try {
            return new MistralConfig(
                    "llama",
                    hidden,
                    (int) f.integer(p + "feed_forward_length"),
                    (int) f.integer(p + "block_count"),
                    heads,
                    kvHeads,
                    headDim,
                    (int) embd[1],
                    f.number(p + "attention.layer_norm_rms_epsilon"),
                    f.has(p + "rope.freq_base") ? f.number(p + "rope.freq_base") : 10000.0,
                    window,
                    f.has(p + "context_length") ? (int) f.integer(p + "context_length") : 2048,
                    !f.tensors().containsKey("output.weight"),
                    f.has("tokenizer.ggml.bos_token_id") ? (int) f.integer("tokenizer.ggml.bos_token_id") : 1,
                    List.of(f.has("tokenizer.ggml.eos_token_id") ? (int) f.integer("tokenizer.ggml.eos_token_id") : 2),
                    null);
        } catch (RuntimeException e) {
            throw new CheckpointException(
                    f.path() + ": its metadata do not describe a model MedQA runs: " + e.getMessage(), e);
        }
    }

    /** The configuration of the GGUF file at {@code path}. */
    public static MistralConfig config(Path path) {
        try (GgufFile f = GgufFile.open(path)) {
            return config(f);
        }
    }

    /** The file's tensors under the checkpoint's names (closing the checkpoint closes {@code f}). */
    public static Checkpoint checkpoint(GgufFile f, MistralConfig config) {
        Map<String, String> names = new LinkedHashMap<>(); // HF name -> GGUF name
        for (String g : f.tensors().keySet()) {
            String hf = hfName(g);
            if (hf == null) {
                throw new CheckpointException(f.path() + ": tensor " + g + " has no place in a Mistral/Llama model "
                        + "(expected token_embd, output_norm, output and blk.N.attn_norm/attn_q/attn_k/attn_v/attn_output/"
                        + "ffn_norm/ffn_gate/ffn_up/ffn_down)");
            }
            names.put(hf, g);
        }
        return Checkpoint.of(
                f.path().toAbsolutePath().getParent(), new Source(f, config, Collections.unmodifiableMap(names)));
    }

    /**
     * Writes the GGUF file {@code gguf} as a Hugging Face folder {@code target}: config.json from its
     * metadata (edited by {@code editConfig}), tokenizer.json and tokenizer_config.json from its
     * tokenizer (when it has one), and its tensors under the checkpoint's names through
     * {@code transform} ({@link CheckpointRewriter}: written whole or not at all). Tensors that the
     * transform copies are written as float32, ggml's dequantized values exactly.
     */
    public static void rewrite(
            Path gguf, Path target, CheckpointRewriter.TensorTransform transform, Consumer<ObjectNode> editConfig) {
        MistralConfig config = config(gguf);
        ObjectNode json = config.toJson();
        json.put("torch_dtype", "float32");
        editConfig.accept(json);
        CheckpointRewriter.rewrite(
                () -> {
                    GgufFile f = GgufFile.open(gguf);
                    try {
                        return checkpoint(f, config);
                    } catch (RuntimeException e) {
                        f.close();
                        throw e;
                    }
                },
                json,
                dir -> {
                    try (GgufFile f = GgufFile.open(gguf)) {
                        if (GgufTokenizer.has(f)) {
                            GgufTokenizer.write(f, dir);
                        }
                    }
                },
                target,
                transform);
    }

    static String hfName(String gguf) {
        switch (gguf) {
            case "token_embd.weight":
                return "model.embed_tokens.weight";
            case "output_norm.weight":
                return "model.norm.weight";
            case "output.weight":
                return "lm_head.weight";
            default:
                break;
        }
        if (!gguf.startsWith("blk.")) {
            return null;
        }
        int dot = gguf.indexOf('.', 4);
        if (dot < 0) {
            return null;
        }
        String layer = gguf.substring(4, dot);
        if (!layer.matches("[0-9]+")) {
            return null;
        }
        String part = switch (gguf.substring(dot + 1)) {
            case "attn_norm.weight" -> "input_layernorm.weight";
            case "attn_q.weight" -> "self_attn.q_proj.weight";
            case "attn_k.weight" -> "self_attn.k_proj.weight";
            case "attn_v.weight" -> "self_attn.v_proj.weight";
            case "attn_output.weight" -> "self_attn.o_proj.weight";
            case "ffn_norm.weight" -> "post_attention_layernorm.weight";
            case "ffn_gate.weight" -> "mlp.gate_proj.weight";
            case "ffn_up.weight" -> "mlp.up_proj.weight";
            case "ffn_down.weight" -> "mlp.down_proj.weight";
            default -> null;
        };
        return part == null ? null : "model.layers." + layer + "." + part;
    }

    /**
     * A checkpoint tensor as the GGUF file stores it: the file, the tensor, and how many heads its
     * rows were permuted in (0: not permuted). Null when {@code c} is not a GGUF checkpoint.
     */
    public record Stored(GgufFile file, GgufFile.Tensor tensor, int permutedHeads) {}

    /** What the GGUF file behind {@code c} stores for {@code name}, or null if {@code c} is not a GGUF file's. */
    public static Stored stored(Checkpoint c, String name) {
        if (!(c.source() instanceof Source s) || !s.names.containsKey(name)) {
            return null;
        }
        int heads = name.endsWith("self_attn.q_proj.weight")
                ? s.config.numAttentionHeads()
                : name.endsWith("self_attn.k_proj.weight") ? s.config.numKeyValueHeads() : 0;
        return new Stored(s.file, s.file.tensor(s.names.get(name)), heads);
    }

    /**
     * The checkpoint row of each stored row, for a tensor whose rows llama.cpp's converter permuted
     * in {@code heads} heads of {@code rows / heads} rows ({@link Source#floats}'s inverse map).
     */
    public static int[] checkpointRows(int rows, int heads) {
        int[] to = new int[rows];
        for (int r = 0; r < rows; r++) {
            to[r] = r;
        }
        if (heads == 0) {
            return to;
        }
        int headDim = rows / heads;
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                for (int j = 0; j < 2; j++) {
                    to[h * headDim + 2 * i + j] = h * headDim + j * half + i;
                }
            }
        }
        return to;
    }

    private static final class Source implements TensorSource {
        private final GgufFile file;
        private final MistralConfig config;
        private final Map<String, String> names;

        Source(GgufFile file, MistralConfig config, Map<String, String> names) {
            this.file = file;
            this.config = config;
            this.names = names;
        }

        @Override
        public Set<String> names() {
            return names.keySet();
        }

        @Override
        public TensorInfo info(String name) {
            GgufFile.Tensor t = file.tensor(gguf(name));
            long[] shape = new long[t.shape().length];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = t.shape()[shape.length - 1 - i]; // ggml lists the innermost dimension first
            }
            return new TensorInfo(name, DType.F32, shape, 0, t.count() * 4);
        }

        private String gguf(String name) {
            String g = names.get(name);
            if (g == null) {
                throw new CheckpointException(file.path() + ": no tensor for " + name + " in this GGUF file");
            }
            return g;
        }

        @Override
        public ByteBuffer floats(String name) {
            GgufFile.Tensor t = file.tensor(gguf(name));
            if (t.count() > Integer.MAX_VALUE / 4) {
                throw new CheckpointException(file.path() + ": tensor " + t.name() + " has " + t.count()
                        + " values, over the 2 GiB of float32 one tensor may take here");
            }
            float[] v = file.floats(t.name());
            if (name.endsWith("self_attn.q_proj.weight")) {
                v = unpermute(v, config.numAttentionHeads());
            } else if (name.endsWith("self_attn.k_proj.weight")) {
                v = unpermute(v, config.numKeyValueHeads());
            }
            ByteBuffer out = ByteBuffer.allocateDirect(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            out.asFloatBuffer().put(v);
            return out;
        }

        /**
         * Undoes llama.cpp's converter, which stores each head's rows interleaved (row 2i+j of a head
         * is the checkpoint's row j*half+i) so that its RoPE rotates adjacent pairs.
         */
        private float[] unpermute(float[] w, int heads) {
            int cols = config.hiddenSize();
            int[] to = checkpointRows(w.length / cols, heads);
            float[] out = new float[w.length];
            for (int r = 0; r < to.length; r++) {
                System.arraycopy(w, r * cols, out, to[r] * cols, cols);
            }
            return out;
        }

        @Override
        public String describe() {
            return file.path() + " (GGUF v" + file.version() + ", " + names.size() + " tensors)";
        }

        @Override
        public void close() {
            file.close();
        }
    }
}
