package ai.medqa.examples.cli;

import ai.medqa.io.GgufFile;
import ai.medqa.quant.Nf4Checkpoint;
import ai.medqa.quant.PackedCheckpoint;
import ai.medqa.quant.Quantization;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medqa quantize}: writes a quantized copy of a checkpoint (NF4 as bitsandbytes, or MedQA's INT4/INT8). */
@Command(
        name = "quantize",
        mixinStandardHelpOptions = true,
        description =
                "Write a quantized copy of a Hugging Face checkpoint or a GGUF file as a Hugging Face folder: nf4 "
                        + "(bitsandbytes-compatible, the default), int4 or int8 (MedQA's layout, see PackedCheckpoint). A quantized "
                        + "checkpoint loads as stored. From a GGUF file, int4 with group size 32 keeps the file's 4-bit codes "
                        + "(Q4_0, Q4_1, Q4_K); the tokenizer and chat template come along.")
final class QuantizeCommand implements Callable<Integer> {
    @Option(
            names = "--model",
            required = true,
            description = "Source Hugging Face folder (F32, F16 or BF16) or GGUF file.")
    Path model;

    @Option(names = "--out", required = true, description = "Folder to create (must not exist).")
    Path out;

    @Option(names = "--format", defaultValue = "nf4", description = "nf4, int4 or int8 (default ${DEFAULT-VALUE}).")
    String format;

    @Option(
            names = "--group-size",
            description = "int4 group size: 32, 64, 128 or 256 (default 64; 32 for a GGUF file, "
                    + "whose 4-bit blocks are groups of 32).")
    Integer groupSize;

    @Option(names = "--no-double-quant", description = "nf4: store block absmax values as float32 instead of 8-bit.")
    boolean noDoubleQuant;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        Quantization q = Quantization.parse(format);
        int group = groupSize != null ? groupSize : GgufFile.isGguf(model) ? 32 : 64;
        Medqa.onInterrupt("nothing was written to " + out + " (it appears only when complete); rerun to start again");
        switch (q) {
            case NF4 -> Nf4Checkpoint.quantize(model, out, !noDoubleQuant);
            case INT4, INT8 -> PackedCheckpoint.quantize(model, out, q, group);
            default -> throw new IllegalArgumentException("--format " + format + ": expected nf4, int4 or int8");
        }
        System.err.println("wrote " + out);
        return 0;
    }
}
