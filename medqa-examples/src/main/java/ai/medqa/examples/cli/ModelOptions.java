package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How to load the model: shared by generate, ask and chat. */
final class ModelOptions {
    @Option(names = "--model", required = true, description = "Hugging Face model folder (config.json, safetensors, tokenizer.json).")
    Path model;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda or cuda:N (default ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--precision", defaultValue = "F32", description = "F32 or F16 compute (default ${DEFAULT-VALUE}).")
    MedQA.Precision precision;

    @Option(names = "--quantize", defaultValue = "none", description = "nf4, int8 or none (default ${DEFAULT-VALUE}).")
    String quantize;

    @Option(names = "--lora", description = "PEFT LoRA adapter folder to apply (repeatable; the first is active).")
    java.util.List<Path> lora = new java.util.ArrayList<>();

    MedQA.Builder builder() {
        MedQA.Builder b = MedQA.builder().model(model).device(device).precision(precision)
                .quantize(ai.medqa.quant.Quantization.parse(quantize));
        lora.forEach(b::lora);
        return b;
    }
}
