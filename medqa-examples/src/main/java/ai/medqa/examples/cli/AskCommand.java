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

    @Parameters(index = "0", description = "The question.")
    String question;

    PrintStream out = System.out;
    PrintStream err = System.err;

    @Override
    public Integer call() {
        try (MedQA medqa = sampling.apply(model.builder()).build()) {
            Generation g = medqa.stream(question, sampling.config(), text -> {
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
