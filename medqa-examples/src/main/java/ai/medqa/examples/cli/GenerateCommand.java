package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.generate.Generation;
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

/** {@code medqa generate}: greedy continuation of a prompt or of token ids. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Greedy continuation of a text prompt or of token ids.")
final class GenerateCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

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

    @Option(names = "--max-new-tokens", defaultValue = "32", description = "New tokens to generate (default ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--ids", description = "Print only the generated ids, space-separated, on one line.")
    boolean ids;

    /** Results go to standard output; logs and the summary line to standard error. */
    java.io.PrintStream out = System.out;
    java.io.PrintStream err = System.err;

    @Spec
    CommandSpec spec;

    java.io.InputStream in = System.in;

    @Override
    public Integer call() {
        // Checked before anything loads: a bad option should not cost a model load.
        if (maxNewTokens < 1) {
            throw new ParameterException(spec.commandLine(), "--max-new-tokens must be at least 1, got " + maxNewTokens);
        }
        String prompt = input.promptFile != null ? TextFiles.read(input.promptFile, in) : input.prompt;
        try (MedQA medqa = model.builder().build()) {
            Generation g = input.tokens != null
                    ? medqa.generate(input.tokens, maxNewTokens)
                    : medqa.generate(prompt, maxNewTokens);
            if (ids || g.text() == null) {
                out.println(Arrays.stream(g.tokens()).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
            } else {
                out.println(g.text());
            }
            err.printf("%d prompt + %d new tokens, stop: %s, prefill %.1f ms, decode %.1f tok/s%n",
                    g.promptIds().length, g.tokens().length, g.stopReason(), g.prefillNanos() / 1e6,
                    g.decodeTokensPerSecond());
            return 0;
        }
    }
}
