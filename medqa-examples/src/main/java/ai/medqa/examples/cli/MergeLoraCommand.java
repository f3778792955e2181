package ai.medqa.examples.cli;

import ai.medqa.lora.LoraMerge;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medqa merge-lora}: a checkpoint with a PEFT adapter merged into its weights. */
@Command(
        name = "merge-lora",
        mixinStandardHelpOptions = true,
        description = "Write a copy of a checkpoint with a LoRA adapter merged in (W + scaling * B A).")
final class MergeLoraCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Base Hugging Face folder (full precision).")
    Path model;

    @Option(names = "--lora", required = true, description = "PEFT adapter folder.")
    Path lora;

    @Option(names = "--out", required = true, description = "Folder to create (must not exist).")
    Path out;

    @Override
    public Integer call() {
        LoraMerge.write(model, lora, out);
        System.err.println("wrote " + out);
        return 0;
    }
}
