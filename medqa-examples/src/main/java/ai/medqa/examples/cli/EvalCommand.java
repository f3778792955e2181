package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.eval.AnswerMetrics;
import ai.medqa.eval.Evaluation;
import ai.medqa.eval.PubMedQaData;
import ai.medqa.eval.SpecFile;
import ai.medqa.metrics.bertscore.BertEncoder;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code medqa eval}: PubMedQA scored as lm-evaluation-harness scores it, resumable, with intervals. */
@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        description = "Evaluate a model on PubMedQA (bundled; the official 500-question test split by default) by "
                + "lm-evaluation-harness's likelihood method: predictions.jsonl, summary.json and report.md in --out. "
                + "Restarting the same command into the same folder continues a killed run.")
final class EvalCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--out", description = "Output folder (created; continued if it holds this run).")
    Path out;

    @Option(
            names = "--report",
            description = "Only rewrite summary.json, report.md, summary.csv and the charts of DIR's predictions.")
    Path report;

    @Option(
            names = "--data",
            description = "Another copy of the data: ori_pqal.json format or Hugging Face JSON Lines.")
    Path data;

    @Option(
            names = "--split",
            defaultValue = "TEST",
            description = "test (official 500, default) or all (1,000: the leaderboard's set).")
    PubMedQaData.Split split;

    @Option(names = "--pubids", split = ",", description = "Only these PMIDs (from the whole data set, in this order).")
    List<String> pubids = new ArrayList<>();

    @Option(names = "--limit", defaultValue = "0", description = "The first N questions of the split (0 = all).")
    int limit;

    @Option(
            names = "--mode",
            defaultValue = "likelihood",
            description =
                    "likelihood (lm-evaluation-harness's scoring, default) or generate (the notebook's rows: the model "
                            + "answers, AnswerExtractor reads yes/no/maybe, lexical metrics against the long answer).")
    String mode;

    @Option(
            names = "--preset",
            defaultValue = "notebook",
            description = "generate mode: notebook (zero-shot, system-prompt, "
                    + "temperature-0.7, finetuned-NAME per --lora).")
    String preset;

    @Option(
            names = "--spec",
            description = "Configurations from a JSON file (name, template, system_prompt, adapter, "
                    + "contexts, sampling); adapters it names are loaded with --lora DIR (named after the folder).")
    Path specFile;

    @Mixin
    AnswerMetricOptions answerMetrics;

    @Option(
            names = "--grid",
            description = "generate mode: each row once per setting of the notebook's sampling grid "
                    + "(temperature 0.3/0.7 x top-p 0.8/0.95 x repetition penalty 1.0/1.2).")
    boolean grid;

    @Option(
            names = "--max-new-tokens",
            defaultValue = "150",
            description = "generate mode: tokens per answer (default ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(
            names = "--constrain",
            defaultValue = "none",
            paramLabel = "none|json",
            description =
                    "generate mode: none (free-text answers, AnswerExtractor reads yes/no/maybe; default) or json "
                            + "(answers constrained to {\"answer\": \"yes\"|\"no\"|\"maybe\", \"explanation\": \"...\"}: the "
                            + "prediction is the answer field, the metrics score the explanation).")
    String constrain;

    @Option(
            names = "--contexts",
            description =
                    "with, without, or both: the abstract in the prompt (likelihood default with; generate default without, "
                            + "as the notebook).")
    String contexts;

    @Option(
            names = "--no-bos",
            description = "Encode without special tokens (lm-evaluation-harness's default for Hugging Face models).")
    boolean noBos;

    @Option(
            names = "--bootstrap",
            defaultValue = "1000",
            description = "Bootstrap resamples for the 95%% intervals (default ${DEFAULT-VALUE}).")
    int bootstrap;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the bootstrap (default ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    GateOptions gates;

    @Spec
    CommandSpec spec;

    private Evaluation.AnswerConstraint answerConstraint = Evaluation.AnswerConstraint.NONE;

    PrintStream stdout = System.out;

    @Override
    public Integer call() throws IOException {
        gates.checkSyntax();
        if (report != null) {
            for (Evaluation.ConfigSummary s : Evaluation.report(report, bootstrap, seed)) {
                stdout.println(s.line());
            }
            stdout.println("wrote " + report.resolve("summary.json") + " and " + report.resolve("report.md"));
            return gates.apply(report, bootstrap, seed, stdout);
        }
        if (out == null) {
            throw new ParameterException(
                    spec.commandLine(), "Missing required option: '--out=<out>' (or --report DIR)");
        }
        model.requireModel();
        boolean generate = mode.equalsIgnoreCase("generate");
        if (!generate && !mode.equalsIgnoreCase("likelihood")) {
            throw new ParameterException(spec.commandLine(), "--mode " + mode + ": expected likelihood or generate");
        }
        if (generate && !preset.equalsIgnoreCase("notebook")) {
            throw new ParameterException(spec.commandLine(), "--preset " + preset + ": expected notebook");
        }
        Evaluation.AnswerConstraint answerConstraint;
        try {
            answerConstraint = Evaluation.AnswerConstraint.parse(constrain);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--constrain " + constrain + ": expected none or json");
        }
        if (answerConstraint != Evaluation.AnswerConstraint.NONE && !generate) {
            throw new ParameterException(
                    spec.commandLine(),
                    "--constrain " + constrain + " applies to --mode generate "
                            + "(likelihood mode scores the three answers, it writes none)");
        }
        this.answerConstraint = answerConstraint;
        if (maxNewTokens < 1) {
            throw new ParameterException(
                    spec.commandLine(), "--max-new-tokens must be at least 1, got " + maxNewTokens);
        }
        if (contexts == null) {
            contexts = generate ? "without" : "with";
        }
        if (!List.of("with", "without", "both").contains(contexts.toLowerCase(Locale.ROOT))) {
            throw new ParameterException(
                    spec.commandLine(), "--contexts " + contexts + ": expected with, without or both");
        }
        // Rows: the base model, then one per --lora adapter, as each mode's preset names them.
        List<String> adapters = new ArrayList<>(model.adapters().keySet());
        String which = contexts.toLowerCase(Locale.ROOT);
        List<Evaluation.Config> configs = generate
                ? Evaluation.notebookPreset(adapters, which, maxNewTokens, seed)
                : Evaluation.likelihoodPreset(adapters, which);
        if (generate) {
            if (grid) {
                configs = Evaluation.withGrid(configs);
            }
        } else if (grid) {
            throw new ParameterException(spec.commandLine(), "--grid applies to --mode generate (sampling settings)");
        }
        if (specFile != null) {
            configs = SpecFile.read(specFile);
            if (grid) {
                configs = Evaluation.withGrid(configs);
            }
        }
        answerMetrics.check(generate);
        try (BertEncoder encoder = answerMetrics.encoder();
                MedQA judge = answerMetrics.localJudge()) {
            AnswerMetrics metrics = answerMetrics.metrics(encoder, judge);
            gates.checkNames(configs);
            return run(configs, generate, metrics);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load the BERTScore encoder: " + e.getMessage(), e);
        }
    }

    private int run(List<Evaluation.Config> configs, boolean generate, AnswerMetrics metrics) throws IOException {
        Medqa.onInterrupt("rerun the same command to continue: the answered questions are kept in "
                + out.resolve("predictions.jsonl"));
        Evaluation evaluation = Evaluation.builder()
                .configs(configs)
                .answerMetrics(metrics)
                .onProgress(Terminal.stderrIsTerminal() ? EvalCommand::bar : null)
                .mode(generate ? Evaluation.Mode.GENERATE : Evaluation.Mode.LIKELIHOOD)
                .constrain(answerConstraint)
                .model(model.model, () -> model.builder().build())
                .data(data == null ? null : PubMedQaData.load(data))
                .split(split)
                .pubids(pubids)
                .limit(limit)
                .bos(!noBos)
                .out(out)
                .bootstrap(bootstrap)
                .seed(seed)
                .build();
        for (Evaluation.ConfigSummary s : evaluation.run()) {
            stdout.println(s.line());
        }
        // Every file of the folder, as written (predictions, run, summary, report, charts).
        try (Stream<Path> files = Files.list(out)) {
            stdout.println("wrote " + out + ": "
                    + String.join(
                            ", ",
                            files.filter(Files::isRegularFile)
                                    .map(p -> p.getFileName().toString())
                                    .filter(n -> !n.startsWith("."))
                                    .sorted()
                                    .toList()));
        }
        return gates.apply(out, bootstrap, seed, stdout);
    }

    /**
     * A one-line progress bar on the terminal's standard error, redrawn in place. It leaves the
     * cursor at the start of its line ({@code \r} after it, the line cleared before it), so a log
     * line printed meanwhile overwrites the bar instead of being appended to it.
     */
    private static void bar(Evaluation.ProgressUpdate p) {
        int width = 30;
        int filled = (int) Math.round(width * (double) p.done() / p.total());
        System.err.printf(
                Locale.ROOT,
                "\033[2K[%s%s] %d/%d  %.2f q/s  ETA %ds  accuracy %.3f%s",
                "#".repeat(filled),
                " ".repeat(width - filled),
                p.done(),
                p.total(),
                p.questionsPerSecond(),
                p.etaSeconds(),
                p.runningAccuracy(),
                p.done() == p.total() ? "\n" : "\r");
        System.err.flush();
    }
}
