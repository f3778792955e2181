package ai.medqa.examples.cli;

import ai.medqa.quant.Nf4Checkpoint;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medqa quantize}: writes a bitsandbytes-compatible NF4 checkpoint. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Write a bitsandbytes-compatible 4-bit (NF4) copy of a Hugging Face checkpoint.")
final class QuantizeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Source Hugging Face folder (F32, F16 or BF16).")
    Path model;

    @Option(names = "--out", required = true, description = "Folder to create (must not exist).")
    Path out;

    @Option(names = "--no-double-quant", description = "Store block absmax values as float32 instead of 8-bit.")
    boolean noDoubleQuant;

    @Override
    public Integer call() {
        Nf4Checkpoint.quantize(model, out, !noDoubleQuant);
        System.err.println("wrote " + out);
        return 0;
    }
}
