package ai.medqa.examples.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code medqa} command line: {@code java -jar medqa-examples/target/medqa.jar <command> ...}. */
@Command(
        name = "medqa",
        mixinStandardHelpOptions = true,
        version = "medqa 0.1.0",
        description = "Biomedical question answering with Mistral models on the JVM.",
        subcommands = {
            CommandLine.HelpCommand.class,
            GenerateCommand.class,
            AskCommand.class,
            ChatCommand.class,
            QuantizeCommand.class,
            MergeLoraCommand.class,
            ScoreCommand.class,
            JudgeCommand.class,
            FinetuneCommand.class,
        })
public final class Medqa {

    public static void main(String[] args) {
        // DJL must never try to download an engine: the native library ships as a jar.
        System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
        int code = new CommandLine(new Medqa()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
        System.exit(code);
    }
}
