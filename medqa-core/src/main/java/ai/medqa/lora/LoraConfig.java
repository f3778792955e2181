package ai.medqa.lora;

import ai.medqa.common.Json;
import ai.medqa.common.JsonFields;
import ai.medqa.model.MistralConfig;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PEFT's {@code LoraConfig} as written to {@code adapter_config.json}, restricted to what MedQA
 * implements: plain LoRA (optionally rsLoRA) on linear projections, no bias, no extra trained
 * modules. Options that would change the result and that MedQA does not implement (DoRA, biases,
 * {@code modules_to_save}, ...) are refused with a {@link LoraException} naming the file and field,
 * rather than silently giving different outputs than Python.
 *
 * <p>Module questions ({@link #targets}, {@link #rank}, {@link #alpha}, {@link #scaling}) are
 * answered as PEFT 0.21 answers them for a module name such as {@code
 * model.layers.0.self_attn.q_proj}: {@code check_target_module_exists} and {@code get_pattern_key}.
 *
 * @param r default rank
 * @param loraAlpha default alpha
 * @param loraDropout dropout on the LoRA input in training mode (none in inference)
 * @param targetModules module name suffixes (PEFT's list form), or null when {@code targetModulesRegex} is set
 * @param targetModulesRegex a regex the whole module name must match (PEFT's string form), or
 *     {@code "all-linear"}; null when the list form is used
 * @param excludeModules suffixes never targeted (list form), or null
 * @param excludeModulesRegex regex of names never targeted (string form), or null
 * @param useRslora scaling {@code alpha / sqrt(r)} instead of {@code alpha / r}
 * @param rankPattern regex (matched against a name suffix) to rank, in file order: the first match wins
 * @param alphaPattern regex to alpha, likewise
 * @param layersToTransform layer indices to target (list form only), or empty for all
 * @param layersPattern names of the layer list in module names ({@code layers}), or empty for any
 * @param baseModelNameOrPath the model the adapter was trained on, informational, may be null
 * @param taskType PEFT's task type ({@code CAUSAL_LM}), may be null
 */
public record LoraConfig(
        int r,
        double loraAlpha,
        double loraDropout,
        List<String> targetModules,
        String targetModulesRegex,
        List<String> excludeModules,
        String excludeModulesRegex,
        boolean useRslora,
        Map<String, Integer> rankPattern,
        Map<String, Double> alphaPattern,
        List<Integer> layersToTransform,
        List<String> layersPattern,
        String baseModelNameOrPath,
        String taskType) {

    private static final Logger log = LoggerFactory.getLogger(LoraConfig.class);

    public static final String FILE_NAME = "adapter_config.json";

    /** PEFT's shorthand for every linear layer except the output head. */
    public static final String ALL_LINEAR = "all-linear";

    /** What PEFT targets on mistral and llama models when target_modules is null. */
    private static final List<String> DEFAULT_TARGETS = List.of("q_proj", "v_proj");

    /** PEFT fields that change the computation and that MedQA does not implement. */
    private static final List<String> UNSUPPORTED = List.of(
            "use_dora",
            "use_qalora",
            "lora_bias",
            "use_bdlora",
            "alora_invocation_tokens",
            "target_parameters",
            "trainable_token_indices",
            "layer_replication",
            "megatron_config",
            "arrow_config");

    public LoraConfig {
        if (r <= 0) {
            throw new LoraException("r is " + r + "; expected > 0");
        }
        if (!(loraDropout >= 0 && loraDropout < 1)) {
            throw new LoraException("lora_dropout is " + loraDropout + "; expected in [0, 1)");
        }
        if ((targetModules == null) == (targetModulesRegex == null)) {
            throw new LoraException("exactly one of targetModules (list) and targetModulesRegex must be given");
        }
        targetModules = targetModules == null ? null : List.copyOf(targetModules);
        excludeModules = excludeModules == null ? null : List.copyOf(excludeModules);
        rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
        alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
        rankPattern.forEach((k, v) -> {
            if (v <= 0) {
                throw new LoraException("rank_pattern[" + k + "] is " + v + "; expected > 0");
            }
        });
        layersToTransform = List.copyOf(layersToTransform);
        layersPattern = List.copyOf(layersPattern);
    }

    /**
     * A configuration as {@code LoraConfig(r=..., lora_alpha=..., lora_dropout=..., target_modules=[...],
     * task_type="CAUSAL_LM")} makes it: no patterns, no rsLoRA.
     */
    public static LoraConfig of(int r, double loraAlpha, double loraDropout, List<String> targetModules) {
        return new LoraConfig(
                r,
                loraAlpha,
                loraDropout,
                targetModules,
                null,
                null,
                null,
                false,
                Map.of(),
                Map.of(),
                List.of(),
                List.of(),
                null,
                "CAUSAL_LM");
    }

    /** The same configuration naming {@code nameOrPath} as its base model (PEFT's {@code base_model_name_or_path}). */
    public LoraConfig withBaseModel(String nameOrPath) {
        return new LoraConfig(
                r,
                loraAlpha,
                loraDropout,
                targetModules,
                targetModulesRegex,
                excludeModules,
                excludeModulesRegex,
                useRslora,
                rankPattern,
                alphaPattern,
                layersToTransform,
                layersPattern,
                nameOrPath,
                taskType);
    }

    /** The same configuration with rsLoRA scaling on or off. */
    public LoraConfig withRslora(boolean on) {
        return new LoraConfig(
                r,
                loraAlpha,
                loraDropout,
                targetModules,
                targetModulesRegex,
                excludeModules,
                excludeModulesRegex,
                on,
                rankPattern,
                alphaPattern,
                layersToTransform,
                layersPattern,
                baseModelNameOrPath,
                taskType);
    }

    /** Reads {@code dir/adapter_config.json}. */
    public static LoraConfig load(Path dir) {
        Path file = dir.resolve(FILE_NAME);
        JsonNode json = Json.readObject(
                file,
                "not found; a PEFT adapter folder has adapter_config.json" + " and adapter_model.safetensors",
                LoraException::new);
        return fromJson(json, file.toString());
    }

    /** Parses a config object; {@code source} names it in error messages. */
    public static LoraConfig fromJson(JsonNode json, String source) {
        if (json == null || !json.isObject()) {
            throw new LoraException(source + ": expected a JSON object");
        }
        JsonFields f = new JsonFields(json, source, LoraException::new);
        String peftType = f.string("peft_type", "LORA");
        if (!peftType.equals("LORA")) {
            throw f.error("peft_type", "\"" + peftType + "\"", "\"LORA\"; MedQA reads LoRA adapters only");
        }
        for (String field : UNSUPPORTED) {
            if (isSet(json.get(field))) {
                throw f.error(field, json.get(field).toString(), "unset (null or false); MedQA does not implement it");
            }
        }
        String bias = f.string("bias", "none");
        if (!bias.equals("none")) {
            throw f.error("bias", "\"" + bias + "\"", "\"none\"; adapters with trained biases are not supported");
        }
        if (isSet(json.get("modules_to_save"))) {
            throw f.error(
                    "modules_to_save",
                    json.get("modules_to_save").toString(),
                    "null; adapters that replace whole modules (e.g. lm_head) are not supported");
        }
        JsonNode init = json.get("init_lora_weights");
        if (init != null
                && init.isTextual()
                && init.asText().toLowerCase(Locale.ROOT).matches("(pissa|olora|loftq|corda).*")) {
            // These initialisations rewrite the base weights; the adapter is meaningless without them.
            throw f.error(
                    "init_lora_weights",
                    init.toString(),
                    "true, false or \"gaussian\"; adapters that modify the base weights are not supported");
        }
        if (json.path("fan_in_fan_out").asBoolean(false)) {
            // PEFT itself resets it to false for torch.nn.Linear targets, which all of Mistral's are.
            log.warn("{}: fan_in_fan_out = true ignored: Mistral's projections are nn.Linear, as PEFT does", source);
        }
        List<String> targets = null;
        String targetRegex = null;
        JsonNode t = json.get("target_modules");
        if (t == null || t.isNull()) {
            log.info("{}: target_modules is null; using PEFT's default for mistral/llama {}", source, DEFAULT_TARGETS);
            targets = DEFAULT_TARGETS;
        } else if (t.isTextual()) {
            targetRegex = t.asText();
        } else {
            targets = f.strings("target_modules");
        }
        List<String> exclude = null;
        String excludeRegex = null;
        JsonNode ex = json.get("exclude_modules");
        if (ex != null && ex.isTextual()) {
            excludeRegex = ex.asText();
        } else if (ex != null && !ex.isNull()) {
            exclude = f.strings("exclude_modules");
        }
        Map<String, Integer> rankPattern = new LinkedHashMap<>();
        f.object("rank_pattern").forEach((k, v) -> rankPattern.put(k, f.integer("rank_pattern." + k, v)));
        Map<String, Double> alphaPattern = new LinkedHashMap<>();
        f.object("alpha_pattern").forEach((k, v) -> alphaPattern.put(k, f.number("alpha_pattern." + k, v)));
        List<Integer> layers = new ArrayList<>();
        JsonNode lt = json.get("layers_to_transform");
        if (lt != null && lt.isArray()) {
            lt.forEach(n -> layers.add(f.integer("layers_to_transform", n)));
        } else if (lt != null && !lt.isNull()) {
            layers.add(f.integer("layers_to_transform", lt));
        }
        JsonNode lp = json.get("layers_pattern");
        List<String> layersPattern = lp == null || lp.isNull()
                ? List.of()
                : lp.isTextual() ? List.of(lp.asText()) : f.strings("layers_pattern");
        try {
            return new LoraConfig(
                    json.has("r") ? f.integer("r", json.get("r")) : 8,
                    json.has("lora_alpha") ? f.number("lora_alpha", json.get("lora_alpha")) : 8,
                    json.has("lora_dropout") ? f.number("lora_dropout", json.get("lora_dropout")) : 0,
                    targets,
                    targetRegex,
                    exclude,
                    excludeRegex,
                    json.path("use_rslora").asBoolean(false),
                    rankPattern,
                    alphaPattern,
                    layers,
                    layersPattern,
                    f.string("base_model_name_or_path", null),
                    f.string("task_type", null));
        } catch (LoraException e) {
            throw new LoraException(source + ": " + e.getMessage(), e);
        }
    }

    /** Whether PEFT would put a LoRA layer on {@code module} (its {@code check_target_module_exists}). */
    public boolean targets(String module) {
        if (excludeModulesRegex != null
                ? Pattern.matches(excludeModulesRegex, module)
                : excludeModules != null && matchesSuffix(excludeModules, module)) {
            return false;
        }
        if (targetModulesRegex != null) {
            // PEFT expands "all-linear" to every nn.Linear but the output embedding.
            return targetModulesRegex.equalsIgnoreCase(ALL_LINEAR)
                    ? !module.equals("lm_head")
                    : Pattern.matches(targetModulesRegex, module);
        }
        if (targetModules.contains(module)) {
            return true; // PEFT skips the layer filter for an exact name
        }
        if (!matchesSuffix(targetModules, module)) {
            return false;
        }
        if (layersToTransform.isEmpty()) {
            return true;
        }
        Integer layer = layerIndex(module);
        return layer != null && layersToTransform.contains(layer);
    }

    /** The rank of {@code module}: the first {@code rank_pattern} key matching a suffix of it, else {@link #r}. */
    public int rank(String module) {
        String key = patternKey(rankPattern.keySet(), module);
        return key == null ? r : rankPattern.get(key);
    }

    /** The alpha of {@code module}, from {@code alpha_pattern} as {@link #rank} does. */
    public double alpha(String module) {
        String key = patternKey(alphaPattern.keySet(), module);
        return key == null ? loraAlpha : alphaPattern.get(key);
    }

    /** {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA, for {@code module}'s own rank and alpha. */
    public double scaling(String module) {
        int rank = rank(module);
        return alpha(module) / (useRslora ? Math.sqrt(rank) : rank);
    }

    /**
     * Trainable parameters of this adapter on a model of {@code model}'s shapes, as PEFT's
     * {@code print_trainable_parameters} counts them: {@code r (in + out)} per targeted projection.
     * Needs no weights.
     */
    public long trainableParameters(MistralConfig model) {
        long total = 0;
        for (Projection p : Projection.of(model)) {
            if (targets(p.module())) {
                total += rank(p.module()) * (p.in() + p.out());
            }
        }
        return total;
    }

    /** The JSON PEFT writes ({@code save_pretrained}: sorted keys, two-space indent), loadable by PEFT. */
    public String toJson() {
        ObjectMapper mapper = Json.MAPPER;
        ObjectNode o = mapper.createObjectNode();
        ObjectNode alphas = o.putObject("alpha_pattern");
        alphaPattern.forEach((k, v) -> putNumber(alphas, k, v));
        o.put("base_model_name_or_path", baseModelNameOrPath);
        o.put("bias", "none");
        if (excludeModulesRegex != null) {
            o.put("exclude_modules", excludeModulesRegex);
        } else if (excludeModules != null) {
            excludeModules.forEach(o.putArray("exclude_modules")::add);
        } else {
            o.putNull("exclude_modules");
        }
        o.put("fan_in_fan_out", false);
        o.put("inference_mode", true);
        o.put("init_lora_weights", true);
        if (layersPattern.isEmpty()) {
            o.putNull("layers_pattern");
        } else {
            layersPattern.forEach(o.putArray("layers_pattern")::add);
        }
        if (layersToTransform.isEmpty()) {
            o.putNull("layers_to_transform");
        } else {
            layersToTransform.forEach(o.putArray("layers_to_transform")::add);
        }
        putNumber(o, "lora_alpha", loraAlpha);
        o.put("lora_dropout", loraDropout);
        o.putNull("modules_to_save");
        o.put("peft_type", "LORA");
        o.put("r", r);
        ObjectNode ranks = o.putObject("rank_pattern");
        rankPattern.forEach(ranks::put);
        if (targetModulesRegex != null) {
            o.put("target_modules", targetModulesRegex);
        } else {
            ArrayNode a = o.putArray("target_modules");
            targetModules.forEach(a::add);
        }
        o.put("task_type", taskType);
        o.put("use_dora", false);
        o.put("use_rslora", useRslora);
        // Sort the top-level keys as PEFT does (json.dumps(sort_keys=True)).
        ObjectNode sorted = mapper.createObjectNode();
        new TreeMap<>(toMap(o)).forEach(sorted::set);
        try {
            return Json.PRETTY.writeValueAsString(sorted);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e); // a tree of strings and numbers always serializes
        }
    }

    private static Map<String, JsonNode> toMap(ObjectNode o) {
        Map<String, JsonNode> m = new LinkedHashMap<>();
        o.properties().forEach(e -> m.put(e.getKey(), e.getValue()));
        return m;
    }

    /** PEFT types alpha as int; write integral values as integers so Python reads back the same type. */
    private static void putNumber(ObjectNode o, String key, double v) {
        if (v == Math.rint(v) && Math.abs(v) < Integer.MAX_VALUE) {
            o.put(key, (int) v);
        } else {
            o.put(key, v);
        }
    }

    private static boolean matchesSuffix(List<String> names, String module) {
        for (String n : names) {
            if (module.equals(n) || module.endsWith("." + n)) {
                return true;
            }
        }
        return false;
    }

    /** PEFT's {@code get_pattern_key}: {@code re.match(rf"(.*\.)?({key})$", module)}, first key wins. */
    private static String patternKey(Set<String> keys, String module) {
        for (String key : keys) {
            if (Pattern.compile("(.*\\.)?(" + key + ")").matcher(module).matches()) {
                return key;
            }
        }
        return null;
    }

    /** The layer index PEFT's layers_to_transform filter reads from a module name, or null. */
    private Integer layerIndex(String module) {
        List<Pattern> patterns = new ArrayList<>();
        if (layersPattern.isEmpty()) {
            // Lazy: the first numbered segment, as PEFT does.
            patterns.add(Pattern.compile(".*?\\.[^.]*\\.(\\d+)\\."));
        } else {
            for (String p : layersPattern) {
                patterns.add(Pattern.compile("(?:^|.*?\\.)" + p + "\\.(\\d+)\\."));
            }
        }
        for (Pattern p : patterns) {
            Matcher m = p.matcher(module);
            if (m.lookingAt()) {
                return Integer.valueOf(m.group(1));
            }
        }
        return null;
    }

    /** A field counts as set unless it is absent, null, false, or an empty string, list or object. */
    private static boolean isSet(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) {
            return false;
        }
        if (n.isBoolean()) {
            return n.asBoolean();
        }
        if (n.isContainerNode() || n.isTextual()) {
            return n.isTextual() ? !n.asText().isEmpty() : n.size() > 0;
        }
        return true;
    }
}
