package ai.medqa.examples.cli;

import ai.medqa.finetune.FeedbackExport;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medqa feedback export}: the votes of {@code medqa serve --feedback} as TRL training data. */
@Command(
        name = "feedback",
        mixinStandardHelpOptions = true,
        description = "Work with the votes medqa serve --feedback writes.",
        subcommands = FeedbackCommand.Export.class)
final class FeedbackCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "which? medqa feedback export ...");
    }

    @Command(
            name = "export",
            mixinStandardHelpOptions = true,
            description = {
                "Write the votes as TRL's conversational datasets: kto (prompt, completion, label from likes and dislikes),",
                "dpo (prompt, chosen, rejected from picked pairs), sft (messages from liked answers). The last vote on an answer",
                "wins; stopped answers are dropped; one model or adapter per export."
            })
    static final class Export implements Callable<Integer> {
        @Option(names = "--in", required = true, description = "The votes file (medqa serve --feedback FILE).")
        Path in;

        @Option(
                names = "--format",
                required = true,
                paramLabel = "kto|dpo|sft",
                description = "TRL trainer's data format.")
        String format;

        @Option(names = "--out", required = true, description = "The JSON Lines file to write (a new file).")
        Path out;

        @Option(
                names = "--model",
                paramLabel = "NAME",
                description = "The model or adapter whose answers to export, when the votes cover several.")
        String model;

        @Option(
                names = "--keep-truncated",
                description =
                        "Also export answers cut at max_tokens (dropped by default: training would teach the cut).")
        boolean keepTruncated;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        PrintStream err = System.err;

        @Override
        public Integer call() {
            FeedbackExport.Format f;
            try {
                f = FeedbackExport.Format.parse(format);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(
                        spec.commandLine(), "--format " + format + ": expected kto, dpo or sft");
            }
            if (Files.exists(out)) {
                throw new CommandLine.ParameterException(
                        spec.commandLine(),
                        "--out " + out + " already exists; nothing is overwritten: choose a new file");
            }
            FeedbackExport.Summary s = FeedbackExport.export(in, f, model, out, keepTruncated);
            err.println("medqa: wrote " + s.examples() + " " + f.name().toLowerCase(Locale.ROOT) + " examples of "
                    + (s.model().isEmpty() ? "the base model" : s.model()) + " to " + out
                    + (s.dropped().isEmpty() ? "" : "; dropped " + s.dropped()));
            return 0;
        }
    }
}
