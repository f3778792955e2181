package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.generate.Generation;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code medqa ask}: one answer, streamed to standard output as it is generated. */
@Command(name = "ask", mixinStandardHelpOptions = true, description = "Answer one question, streaming the answer.")
final class AskCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Parameters(index = "0", arity = "0..1", description = "The question (or --prompt-file).")
    String question;

    @picocli.CommandLine.Option(names = "--prompt-file", description = "The question from a UTF-8 file; - reads standard input.")
    String promptFile;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    java.io.InputStream in = System.in;

    PrintStream out = System.out;
    PrintStream err = System.err;

    @Override
    public Integer call() {
        if (question == null && promptFile == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "no question: give it as an argument (medqa ask --model DIR \"QUESTION\") or with --prompt-file FILE");
        }
        if (question != null && promptFile != null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "give the question as an argument or with --prompt-file, not both");
        }
        if (promptFile != null) {
            question = TextFiles.read(promptFile, in).strip();
        }
        var config = sampling.config(); // validates the sampling options before the model loads
        try (MedQA medqa = sampling.apply(model.builder()).build()) {
            Generation g = medqa.stream(question, config, text -> {
                out.print(text);
                out.flush();
            });
            out.println();
            err.printf("%d new tokens, stop: %s, %.1f tok/s%n", g.tokens().length, g.stopReason(),
                    g.decodeTokensPerSecond());
            return 0;
        }
    }
}
