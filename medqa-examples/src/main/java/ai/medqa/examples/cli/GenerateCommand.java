package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code medqa generate}: continuation of a prompt or of token ids, as transformers' {@code generate()}
 * decodes it: the model folder's {@code generation_config.json} (greedy when it has none), then the
 * sampling flags given.
 */
@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        description = {
            "Continuation of a text prompt or of token ids: as the model folder's generation_config.json says",
            "(greedy without one), with the sampling flags given on top."
        })
final class GenerateCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--prompt", description = "Text prompt (needs tokenizer.json in the model folder).")
        String prompt;

        @Option(names = "--tokens", split = ",", description = "Prompt token ids, comma-separated, e.g. 1,5,9.")
        int[] tokens;

        @Option(names = "--prompt-file", description = "Text prompt from a UTF-8 file; - reads standard input.")
        String promptFile;
    }

    @Option(names = "--ids", description = "Print only the generated ids, space-separated, on one line.")
    boolean ids;

    /** Results go to standard output; logs and the summary line to standard error. */
    PrintStream out = System.out;

    PrintStream err = System.err;

    @Spec
    CommandSpec spec;

    InputStream in = System.in;

    @Override
    public Integer call() {
        // Checked before anything loads: a bad option should not cost a model load.
        if (sampling.system != null) {
            throw new ParameterException(
                    spec.commandLine(),
                    "--system applies to ask and chat; generate continues the " + "prompt as given");
        }
        GenerationConfig base = GenerationConfig.load(model.requireModel()).toBuilder()
                .maxNewTokens(32)
                .build();
        GenerationConfig config = sampling.config(base);
        String prompt = input.promptFile != null ? TextFiles.read(input.promptFile, in) : input.prompt;
        try (MedQA medqa = model.builder().build()) {
            Generation g = input.tokens != null ? medqa.generate(input.tokens, config) : medqa.generate(prompt, config);
            if (ids || g.text() == null) {
                out.println(
                        Arrays.stream(g.tokens()).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
            } else {
                out.println(g.text());
            }
            err.printf(
                    "%d prompt + %d new tokens, stop: %s, prefill %.1f ms, decode %.1f tok/s%n",
                    g.promptIds().length,
                    g.tokens().length,
                    g.stopReason(),
                    g.prefillNanos() / 1e6,
                    g.decodeTokensPerSecond());
            return 0;
        }
    }
}
