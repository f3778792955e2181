package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.io.CheckpointException;
import ai.medqa.io.GgufFile;
import ai.medqa.model.MatmulPrecision;
import ai.medqa.model.OllamaModels;
import ai.medqa.quant.LmHead;
import ai.medqa.quant.Quantization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** How to load the model: shared by generate, ask, chat, serve, eval and judge. */
final class ModelOptions {
    @Option(
            names = "--model",
            description = "Hugging Face model folder (config.json, safetensors, tokenizer.json), or a GGUF "
                    + "file (architecture llama, with the tokenizer and chat template it carries), or ollama:NAME[:TAG] (a model Ollama "
                    + "pulled, read in place); required, except by judge when it is given --endpoint.")
    Path model;

    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    /** The model folder or GGUF file; a usage error (exit 2) when --model is missing or another file. */
    Path requireModel() {
        if (model == null) {
            throw new ParameterException(mixee.commandLine(), "Missing required option: '--model=<model>'");
        }
        if (OllamaModels.isOllama(model.toString())) {
            ollamaName = model.toString().substring(OllamaModels.PREFIX.length());
            try {
                model = OllamaModels.resolve(model.toString());
            } catch (CheckpointException e) {
                throw new ParameterException(mixee.commandLine(), e.getMessage());
            }
        }
        if (Files.isRegularFile(model) && !GgufFile.isGguf(model)) {
            throw new ParameterException(
                    mixee.commandLine(),
                    "--model " + model + ": a file that is not "
                            + "GGUF; expected a Hugging Face model folder (config.json, *.safetensors, tokenizer.json) or a .gguf file");
        }
        return model;
    }

    private String ollamaName; // the Ollama model --model named, once resolved

    /** The model's name for users (the API's model id): the Ollama name, the GGUF file's stem, or the folder's name. */
    String displayName(Path resolved) {
        if (ollamaName != null) {
            return ollamaName;
        }
        String file = resolved.toAbsolutePath().normalize().getFileName().toString();
        return file.endsWith(".gguf") ? file.substring(0, file.length() - ".gguf".length()) : file;
    }

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda or cuda:N (default ${DEFAULT-VALUE}).")
    String device;

    @Option(
            names = "--precision",
            defaultValue = "F32",
            description =
                    "F32, F16 or BF16 compute, case-insensitive (default ${DEFAULT-VALUE}); BF16: bfloat16 products, float32 elsewhere.")
    MedQA.Precision precision;

    @Option(
            names = "--quantize",
            defaultValue = "none",
            description = "int4 (fastest), nf4 (bitsandbytes), int8 or none (default ${DEFAULT-VALUE}).")
    String quantize;

    @Option(
            names = "--dequantize",
            description = "With --quantize none: a quantized model's projections (bitsandbytes NF4, "
                    + "MedQA int4/int8, a GGUF file's blocks) dequantized to the --precision on load, the stored values exactly, "
                    + "instead of loading as stored (more memory, slower).")
    boolean dequantize;

    @Option(
            names = "--group-size",
            defaultValue = "64",
            description = "int4 group size: 32, 64, 128 or 256 (default ${DEFAULT-VALUE}).")
    int groupSize;

    @Option(
            names = "--lm-head",
            defaultValue = "compute",
            description =
                    "lm_head: compute (the --precision, transformers' default; a GGUF file's quantized head loads as stored), "
                            + "int8 or int4 (a tied head gets a quantized copy; on small models the largest matrix read per token).")
    String lmHead;

    @Option(
            names = "--float32-matmul-precision",
            defaultValue = "highest",
            paramLabel = "highest|medium",
            description =
                    "as torch.set_float32_matmul_precision: highest (default) keeps F32 products in float32; medium runs "
                            + "F32 products of 128 rows or more (long prompts, scoring) as bfloat16 GEMMs, faster and about "
                            + "bfloat16's error; decode stays float32.")
    String matmulPrecision;

    @Option(
            names = "--threads",
            defaultValue = "0",
            paramLabel = "N",
            description = "PyTorch threads (default: one per physical core). On a machine with other busy processes, "
                    + "the cores left free: PyTorch's workers spin, and a busy core slows every step 5-15x.")
    int threads;

    @Option(
            names = "--lora",
            description =
                    "PEFT LoRA adapter: NAME=DIR, or DIR named after its folder (repeatable; the first is active).")
    List<String> lora = new ArrayList<>();

    /** The --lora adapters by name, in the order given. */
    LinkedHashMap<String, Path> adapters() {
        LinkedHashMap<String, Path> out = new LinkedHashMap<>();
        for (String spec : lora) {
            int eq = spec.indexOf('=');
            // NAME=DIR, unless the '=' belongs to the path (then a folder of that name exists).
            boolean named = eq > 0 && !Files.exists(Path.of(spec));
            if (spec.isBlank() || eq == 0 || (named && eq == spec.length() - 1)) {
                throw new ParameterException(
                        mixee.commandLine(),
                        "--lora \"" + spec + "\": expected NAME=DIR or DIR (a PEFT adapter folder)");
            }
            Path dir = Path.of(named ? spec.substring(eq + 1) : spec);
            String name = named
                    ? spec.substring(0, eq)
                    : dir.toAbsolutePath().normalize().getFileName().toString();
            if (out.put(name, dir) != null) {
                throw new ParameterException(mixee.commandLine(), "two --lora adapters named " + name);
            }
        }
        return out;
    }

    /** --threads as given, checked: 0 (PyTorch's default) or a positive count. */
    static int threadCount(int threads, CommandSpec spec) {
        if (threads < 0) {
            throw new ParameterException(
                    spec.commandLine(),
                    "--threads " + threads
                            + ": expected a number of threads >= 1 (leave it out for PyTorch's default)");
        }
        return threads;
    }

    MedQA.Builder builder() {
        LmHead head;
        try {
            head = LmHead.parse(lmHead);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(
                    mixee.commandLine(), "--lm-head " + lmHead + ": expected compute, int8 or int4");
        }
        Quantization quantization;
        try {
            quantization = Quantization.parse(quantize);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(
                    mixee.commandLine(), "--quantize " + quantize + ": expected int4, nf4, int8 or none");
        }
        if (dequantize && quantization != Quantization.NONE) {
            throw new ParameterException(
                    mixee.commandLine(),
                    "--dequantize applies to --quantize none " + "(--quantize " + quantize + " quantizes anyway)");
        }
        MatmulPrecision matmul;
        try {
            matmul = MatmulPrecision.parse(matmulPrecision);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(
                    mixee.commandLine(),
                    "--float32-matmul-precision " + matmulPrecision + ": expected highest or medium");
        }
        if (matmul == MatmulPrecision.MEDIUM && precision != MedQA.Precision.F32) {
            throw new ParameterException(
                    mixee.commandLine(),
                    "--float32-matmul-precision medium " + "applies to --precision F32 (the products of --precision "
                            + precision + " are not float32)");
        }
        MedQA.Builder b = MedQA.builder()
                .model(requireModel())
                .device(device)
                .precision(precision)
                .float32MatmulPrecision(matmul)
                .quantize(quantization)
                .dequantize(dequantize)
                .groupSize(groupSize)
                .lmHead(head)
                .threads(threadCount(threads, mixee));
        adapters().forEach(b::lora);
        return b;
    }
}
