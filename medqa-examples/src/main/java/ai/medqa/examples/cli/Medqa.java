package ai.medqa.examples.cli;

import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code medqa} command line: {@code java -jar medqa-examples/target/medqa.jar <command> ...}. */
@Command(
        name = "medqa",
        mixinStandardHelpOptions = true,
        version = "medqa 0.1.0",
        description = "Biomedical question answering with Mistral models on the JVM.",
        footer = {
            "",
            "The command line runs DJL offline (-Dai.djl.offline=true unless set) on the CPU natives it ships;",
            "for CUDA, run with -Dai.djl.offline=false (DJL downloads its cu128 natives) or PYTORCH_LIBRARY_PATH",
            "set to a local PyTorch 2.7.1 (see README, CUDA). Errors print one line; --verbose adds the stack trace."
        },
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
            DoctorCommand.class,
            InspectCommand.class,
            DemoCommand.class,
            EvalCommand.class,
            ServeCommand.class,
            FeedbackCommand.class,
        })
public final class Medqa {

    @CommandLine.Option(
            names = "--verbose",
            scope = CommandLine.ScopeType.INHERIT,
            description = "On an error, print the stack trace too.")
    boolean verbose;

    /** Levels slf4j-simple knows, as --log-level spells them. */
    private static final List<String> LEVELS = List.of("error", "warn", "info", "debug", "trace");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Option(
            names = "--log-level",
            scope = CommandLine.ScopeType.INHERIT,
            paramLabel = "LEVEL",
            description =
                    "Log lines on standard error: error, warn, info (default; DJL's own at warn), debug or trace.")
    void logLevel(String level) {
        String l = level.trim().toLowerCase(Locale.ROOT);
        if (!LEVELS.contains(l)) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(), "--log-level " + level + ": expected error, warn, info, debug or trace");
        }
        logLevels(l);
    }

    @CommandLine.Option(
            names = {"-q", "--quiet"},
            scope = CommandLine.ScopeType.INHERIT,
            description = "Only warnings and errors on standard error (as --log-level warn).")
    void quiet(boolean on) {
        if (on) {
            logLevels("warn");
        }
    }

    /**
     * Sets slf4j-simple's levels. It reads them once, when the first logger is made, which happens
     * after the command line is parsed (no library class logs before a command runs).
     */
    private static void logLevels(String level) {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        boolean detail = level.equals("debug") || level.equals("trace");
        System.setProperty(
                "org.slf4j.simpleLogger.log.ai.djl", detail ? level : LEVELS.indexOf(level) < 1 ? level : "warn");
    }

    public static void main(String[] args) {
        // The application's choice, not the library's: no engine download unless asked for.
        System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
        // DJL warns on every GPU probe of a machine without CUDA; a CPU-only run need not read that.
        System.setProperty(
                "org.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils",
                System.getProperty("org.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils", "error"));
        // DJL's INFO lines (engine found, natives loaded: 4-12 a command) are not the user's business.
        System.setProperty(
                "org.slf4j.simpleLogger.log.ai.djl", System.getProperty("org.slf4j.simpleLogger.log.ai.djl", "warn"));
        // Ctrl-C (SIGINT) or SIGTERM runs the shutdown hooks: a long command then says how to continue.
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            String hint = onInterrupt;
                            if (hint != null) {
                                System.err.println(System.lineSeparator() + "medqa: interrupted; " + hint);
                            }
                        },
                        "medqa-interrupted"));
        int code = commandLine().execute(args);
        onInterrupt = null; // finished (or failed with its own message): nothing to add at exit
        System.exit(code);
    }

    /** What an interrupted command tells the user (how to continue), or null. */
    private static volatile String onInterrupt;

    /** Set by a long command while it runs: printed if the process is interrupted before it ends. */
    static void onInterrupt(String hint) {
        onInterrupt = hint;
    }

    /**
     * The command line as {@code main} runs it: case-insensitive enum values, and errors as one line
     * {@code medqa: error: ...} with exit code 1 (usage errors keep picocli's message and exit 2).
     */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Medqa()).setCaseInsensitiveEnumValuesAllowed(true);
        cli.setParameterExceptionHandler(Medqa::usageError);
        cli.setExecutionExceptionHandler((e, command, parsed) -> {
            command.getErr().println("medqa: error: " + message(e));
            if (parsed.matchedOption("--verbose") != null
                    || parsed.asCommandLineList().stream()
                            .anyMatch(c -> c.getParseResult().hasMatchedOption("--verbose"))) {
                e.printStackTrace(command.getErr());
            }
            return 1;
        });
        return cli;
    }

    /**
     * A usage error (a bad flag or value): its message and where to read more, exit code 2, as
     * picocli's documented short error handler and GNU tools do; the full usage only on --help.
     */
    static int usageError(CommandLine.ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println(cmd.getColorScheme().errorText(ex.getMessage()));
        CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
        err.printf(
                "Try '%s --help' for more information.%n", cmd.getCommandSpec().qualifiedName());
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    /**
     * The most telling message of {@code e}: its own, or its cause's when it has none. A file system
     * error whose message is only a path (NoSuchFileException's) says what went wrong with it.
     */
    static String message(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof FileSystemException f
                    && f.getFile() != null
                    && (e.getMessage() == null
                            || e.getMessage().isBlank()
                            || e.getMessage().strip().equals(f.getFile())
                            || e == f)) {
                String why = f instanceof NoSuchFileException
                        ? "no such file or folder"
                        : f instanceof AccessDeniedException
                                ? "permission denied"
                                : f instanceof FileAlreadyExistsException
                                        ? "already exists"
                                        : f instanceof NotDirectoryException
                                                ? "not a folder"
                                                : f.getReason() != null
                                                        ? f.getReason()
                                                        : f.getClass().getSimpleName();
                return f.getFile() + ": " + why;
            }
        }
        Throwable t = e;
        while ((t.getMessage() == null || t.getMessage().isBlank()) && t.getCause() != null) {
            t = t.getCause();
        }
        String m = t.getMessage();
        return m == null || m.isBlank()
                ? t.getClass().getSimpleName()
                : m.strip().lines().findFirst().orElse(m);
    }
}
