package ai.medqa.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.medqa.common.Staging;
import ai.medqa.io.CheckpointException;
import ai.medqa.io.DType;
import ai.medqa.io.HalfFloat;
import ai.medqa.io.SafetensorsFile;
import ai.medqa.io.SafetensorsWriter;
import ai.medqa.io.TensorData;
import ai.medqa.io.TensorInfo;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.MistralModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One LoRA adapter in memory: its {@link LoraConfig} and, per targeted projection, {@link
 * LoraWeights} on the model's device. Reads and writes PEFT's folder format ({@code
 * adapter_config.json} + {@code adapter_model.safetensors} with keys
 * {@code base_model.model.<module>.lora_A.weight} {@code [r, in]} and {@code .lora_B.weight}
 * {@code [out, r]}), so adapters move between MedQA and Python unchanged.
 *
 * <p>Weights are always float32, whatever the base's dtype, as PEFT keeps them by default
 * ({@code autocast_adapter_dtype}): they are trainable parameters and the LoRA branch is cheap.
 *
 * <p>Loading checks the adapter against the model before any array is created: every key must be a
 * LoRA weight of a projection the model has and the config targets, with the shape the config's
 * rank and the model's dimensions imply, and every targeted projection must have both matrices.
 */
public final class LoraAdapter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LoraAdapter.class);

    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    private static final String PREFIX = "base_model.model.";
    private static final Pattern KEY = Pattern.compile(Pattern.quote(PREFIX) + "(.+)\\.lora_([AB])\\.weight");

    private final String name;
    private final LoraConfig config;
    private final NDManager manager;
    private final Map<String, LoraWeights> weights; // module -> weights, in model order

    private LoraAdapter(String name, LoraConfig config, NDManager manager, Map<String, LoraWeights> weights) {
        this.name = name;
        this.config = config;
        this.manager = manager;
        this.weights = Collections.unmodifiableMap(weights);
    }

    /**
     * Loads the PEFT adapter in {@code dir} onto {@code model} under {@code name} and makes it the
     * active adapter: the one-call entry point. Further adapters and switching: {@link LoraAdapters}.
     *
     * @throws LoraException if the adapter uses an unsupported option or does not fit the model
     */
    public static LoraAdapter apply(MistralModel model, Path dir, String name) {
        LoraAdapters adapters = LoraAdapters.of(model);
        LoraAdapter adapter = adapters.load(dir, name);
        adapters.activate(name);
        return adapter;
    }

    /** Reads and checks the adapter in {@code dir} for {@code model}, without attaching it. */
    public static LoraAdapter read(MistralModel model, Path dir, String name) {
        LoraConfig config = LoraConfig.load(dir);
        Path file = dir.resolve(WEIGHTS_FILE);
        if (!Files.exists(file) && Files.exists(dir.resolve("adapter_model.bin"))) {
            throw new LoraException(
                    dir + ": has adapter_model.bin (pickle) but no " + WEIGHTS_FILE
                            + "; MedQA reads safetensors only: save it in Python with save_pretrained(safe_serialization=True)");
        }
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (TensorInfo info : st.tensors().values()) {
                tensors.put(info.name(), new TensorData(info.dtype(), info.shape(), st.raw(info.name())));
            }
            LoraAdapter adapter = fromTensors(model, name, config, tensors, file.toString());
            log.info(
                    "read LoRA adapter {} from {}: {} projections, {} parameters",
                    name,
                    dir,
                    adapter.weights.size(),
                    adapter.parameterCount());
            return adapter;
        } catch (CheckpointException e) {
            throw new LoraException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * An adapter from PEFT-named tensors (F32, F16 or BF16), checked against {@code model} as
     * {@link #read} does; {@code source} names them in error messages.
     */
    public static LoraAdapter fromTensors(
            MistralModel model, String name, LoraConfig config, Map<String, TensorData> tensors, String source) {
        Map<String, Projection> targeted = check(model.config(), config, tensors, source);
        NDManager manager = model.manager().newSubManager();
        try {
            Map<String, LoraWeights> weights = new LinkedHashMap<>();
            for (Projection p : targeted.values()) {
                String m = p.module();
                weights.put(
                        m,
                        new LoraWeights(
                                m,
                                array(manager, tensors.get(key(m, "A"))),
                                array(manager, tensors.get(key(m, "B"))),
                                config.scaling(m)));
            }
            return new LoraAdapter(name, config, manager, weights);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * Checks PEFT-named tensors against a model's shapes: every key a LoRA weight of a projection the
     * model has and the config targets, with the shape its rank implies, and none missing. Returns
     * the targeted projections by module name.
     */
    static Map<String, Projection> check(
            MistralConfig model, LoraConfig config, Map<String, TensorData> tensors, String source) {
        Map<String, Projection> targeted = targeted(model, config, source);
        Map<String, Projection> all = new LinkedHashMap<>();
        Projection.of(model).forEach(p -> all.put(p.module(), p));
        for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
            String key = e.getKey();
            Matcher m = KEY.matcher(key);
            if (!m.matches()) {
                throw new LoraException(source + ": key " + key + " is not a LoRA weight; expected " + PREFIX
                        + "<module>.lora_A.weight or .lora_B.weight");
            }
            String module = m.group(1);
            Projection p = all.get(module);
            if (p == null) {
                throw new LoraException(
                        source + ": key " + key + " adapts " + module + ", which the model does not have"
                                + " (it has " + model.numHiddenLayers() + " layers with self_attn.{q,k,v,o}_proj and"
                                + " mlp.{gate,up,down}_proj, and lm_head)");
            }
            if (!targeted.containsKey(module)) {
                throw new LoraException(source + ": key " + key + " adapts " + module
                        + ", which adapter_config.json does not target (" + describeTargets(config) + ")");
            }
            long[] expected = expectedShape(config, p, m.group(2));
            long[] actual = e.getValue().shape();
            if (!Arrays.equals(actual, expected)) {
                throw new LoraException(source + ": key " + key + " has shape " + Arrays.toString(actual)
                        + "; expected " + Arrays.toString(expected) + " ("
                        + (m.group(2).equals("A") ? "[r, in_features]" : "[out_features, r]") + " of " + module
                        + " with r = " + config.rank(module) + " from adapter_config.json)");
            }
            DType dtype = e.getValue().dtype();
            if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
                throw new LoraException(
                        source + ": key " + key + " has dtype " + dtype + "; expected F32, F16 or BF16");
            }
        }
        for (Projection p : targeted.values()) {
            for (String ab : new String[] {"A", "B"}) {
                String key = key(p.module(), ab);
                if (!tensors.containsKey(key)) {
                    throw new LoraException(source + ": missing key " + key + " (shape "
                            + Arrays.toString(expectedShape(config, p, ab)) + "): adapter_config.json targets "
                            + p.module() + " (" + describeTargets(config) + ")");
                }
            }
        }
        return targeted;
    }

    /**
     * A new adapter as PEFT's {@code get_peft_model} initialises one: {@code A} Kaiming-uniform
     * ({@code U(-1/sqrt(in), 1/sqrt(in))}), {@code B} zero, so it starts as the identity on the base.
     * Draws from a {@link SplittableRandom} seeded with {@code seed} (repeatable, not torch's stream).
     */
    public static LoraAdapter create(MistralModel model, String name, LoraConfig config, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        for (Projection p : targeted(model.config(), config, "LoraConfig").values()) {
            int r = config.rank(p.module());
            float[] a = new float[Math.toIntExact(r * p.in())];
            double bound = 1 / Math.sqrt(p.in());
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) random.nextDouble(-bound, bound);
            }
            tensors.put(key(p.module(), "A"), TensorData.ofFloats(DType.F32, new long[] {r, p.in()}, a));
            tensors.put(
                    key(p.module(), "B"),
                    TensorData.ofFloats(DType.F32, new long[] {p.out(), r}, new float[Math.toIntExact(p.out() * r)]));
        }
        return fromTensors(model, name, config, tensors, "new adapter " + name);
    }

    /**
     * Writes the adapter in PEFT's format into {@code dir} (created if needed): {@code
     * adapter_model.safetensors} then {@code adapter_config.json}, each atomically (temporary file,
     * then rename), so a crash leaves each file either old or new, never half written.
     */
    public void save(Path dir) {
        try {
            Files.createDirectories(dir);
            SafetensorsWriter.write(dir.resolve(WEIGHTS_FILE), tensors(), Map.of("format", "pt"));
            Path target = dir.resolve(LoraConfig.FILE_NAME).toAbsolutePath();
            Path tmp = Staging.file(target);
            try {
                Files.writeString(tmp, config.toJson(), StandardCharsets.UTF_8);
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
            log.info("saved LoRA adapter {} to {}", name, dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save adapter " + name + " to " + dir + ": " + e, e);
        }
    }

    /** The weights as PEFT names them, float32, sorted by key (the order safetensors' Python writer uses). */
    public Map<String, TensorData> tensors() {
        Map<String, TensorData> out = new TreeMap<>();
        for (LoraWeights w : weights.values()) {
            out.put(key(w.module(), "A"), toTensor(w.a()));
            out.put(key(w.module(), "B"), toTensor(w.b()));
        }
        return out;
    }

    public String name() {
        return name;
    }

    public LoraConfig config() {
        return config;
    }

    /** Module name to weights, in the model's order. */
    public Map<String, LoraWeights> weights() {
        return weights;
    }

    /** Trainable parameters: the elements of every A and B. */
    public long parameterCount() {
        long n = 0;
        for (LoraWeights w : weights.values()) {
            n += w.a().size() + w.b().size();
        }
        return n;
    }

    /** Frees the arrays. Detach the adapter first ({@link LoraAdapters#remove}) if it is attached. */
    @Override
    public void close() {
        manager.close();
    }

    @Override
    public String toString() {
        return "LoraAdapter[" + name + ", " + weights.size() + " projections, " + parameterCount() + " parameters]";
    }

    private static Map<String, Projection> targeted(MistralConfig model, LoraConfig config, String source) {
        Map<String, Projection> targeted = new LinkedHashMap<>();
        for (Projection p : Projection.of(model)) {
            if (config.targets(p.module())) {
                targeted.put(p.module(), p);
            }
        }
        if (targeted.isEmpty()) {
            throw new LoraException(source + ": adapter_config.json targets no projection of the model ("
                    + describeTargets(config) + "; the model's are self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj"
                    + " in model.layers.0-" + (model.numHiddenLayers() - 1) + ", and lm_head)");
        }
        return targeted;
    }

    private static long[] expectedShape(LoraConfig config, Projection p, String ab) {
        long r = config.rank(p.module());
        return ab.equals("A") ? new long[] {r, p.in()} : new long[] {p.out(), r};
    }

    private static String describeTargets(LoraConfig config) {
        return "target_modules "
                + (config.targetModulesRegex() != null
                        ? "\"" + config.targetModulesRegex() + "\""
                        : config.targetModules())
                + (config.layersToTransform().isEmpty() ? "" : ", layers_to_transform " + config.layersToTransform());
    }

    static String key(String module, String ab) {
        return PREFIX + module + ".lora_" + ab + ".weight";
    }

    private static NDArray array(NDManager manager, TensorData t) {
        ByteBuffer src = t.data().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[src.remaining() / t.dtype().byteSize()];
        switch (t.dtype()) {
            case F32 -> src.asFloatBuffer().get(values);
            case F16 -> {
                for (int i = 0; i < values.length; i++) {
                    values[i] = HalfFloat.f16ToF32(src.getShort(src.position() + 2 * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < values.length; i++) {
                    values[i] = HalfFloat.bf16ToF32(src.getShort(src.position() + 2 * i));
                }
            }
            default -> throw new AssertionError(t.dtype());
        }
        NDArray array = manager.create(values, new Shape(t.shape()));
        // Adapter weights live as long as the adapter, not as long as a caller's NDScope.
        NDScope.unregister(array);
        return array;
    }

    private static TensorData toTensor(NDArray a) {
        float[] values = a.getDataType() == DataType.FLOAT32 ? a.toFloatArray() : null;
        if (values == null) {
            throw new IllegalStateException("LoRA weights must be float32, found " + a.getDataType());
        }
        return TensorData.ofFloats(DType.F32, a.getShape().getShape(), values);
    }
}
