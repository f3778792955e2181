package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.eval.AnswerMetrics;
import ai.medqa.eval.Evaluation;
import ai.medqa.eval.PubMedQaData;
import ai.medqa.eval.SpecFile;
import ai.medqa.metrics.bertscore.BertEncoder;
import ai.medqa.metrics.bertscore.BertScore;
import ai.medqa.metrics.judge.JudgeModel;
import ai.medqa.metrics.judge.LlmJudge;
import ai.medqa.metrics.judge.OpenAiChatModel;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
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

    @Option(
            names = "--bertscore",
            description = "generate mode: also bertscore_p, bertscore_r, bertscore_f of each answer "
                    + "against the long answer (all-MiniLM-L6-v2, bundled).")
    boolean bertscore;

    @Option(
            names = "--judge-dir",
            description = "generate mode: rate each answer 1-4 with a local judge model folder "
                    + "(the judge prompt of medqa judge; judge_rating per line).")
    Path judgeDir;

    @Option(
            names = "--judge-endpoint",
            description = "generate mode: an OpenAI-compatible chat-completions endpoint as the judge.")
    String judgeEndpoint;

    @Option(names = "--judge-model", description = "The endpoint's model name for --judge-endpoint.")
    String judgeModel;

    @Option(
            names = "--judge-api-key-env",
            defaultValue = "OPENAI_API_KEY",
            description = "Environment variable holding the endpoint's key (default ${DEFAULT-VALUE}; never logged).")
    String judgeApiKeyEnv;

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

    @Option(
            names = "--fail-if-worse",
            paramLabel = "NEW:OLD",
            description = "Exit 3 when configuration NEW is significantly worse than OLD (lower accuracy, McNemar's "
                    + "exact p < 0.05 on the questions both answered): a gate before promoting an adapter. Repeatable.")
    List<String> failIfWorse = new ArrayList<>();

    /** Exit code of a failed --fail-if-worse gate (1 is an error, 2 a usage error). */
    static final int GATE_FAILED = 3;

    @Spec
    CommandSpec spec;

    private Evaluation.AnswerConstraint answerConstraint = Evaluation.AnswerConstraint.NONE;

    PrintStream stdout = System.out;

    @Override
    public Integer call() throws IOException {
        for (String gate : failIfWorse) {
            String[] parts = gate.split(":", -1);
            if (parts.length != 2 || parts[0].isBlank() || parts[1].isBlank() || parts[0].equals(parts[1])) {
                throw new ParameterException(
                        spec.commandLine(),
                        "--fail-if-worse " + gate
                                + ": expected NEW:OLD, two configuration names (e.g. finetuned-pubmed:harness)");
            }
        }
        if (report != null) {
            for (Evaluation.ConfigSummary s : Evaluation.report(report, bootstrap, seed)) {
                print(s);
            }
            stdout.println("wrote " + report.resolve("summary.json") + " and " + report.resolve("report.md"));
            return gates(report);
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
        if ((bertscore || judgeDir != null || judgeEndpoint != null) && !generate) {
            throw new ParameterException(
                    spec.commandLine(), "--bertscore and the judge apply to --mode generate (answers to score)");
        }
        if (judgeDir != null && judgeEndpoint != null) {
            throw new ParameterException(spec.commandLine(), "give --judge-dir or --judge-endpoint, not both");
        }
        if (judgeEndpoint != null && judgeModel == null) {
            throw new ParameterException(spec.commandLine(), "--judge-endpoint needs --judge-model NAME");
        }
        try (BertEncoder encoder = bertscore ? BertEncoder.miniLm() : null;
                MedQA judgeMedqa =
                        judgeDir != null ? MedQA.builder().model(judgeDir).build() : null) {
            JudgeModel judge = judgeMedqa != null
                    ? new LocalJudgeModel(judgeMedqa, judgeDir.toString(), 256, 0.0)
                    : judgeEndpoint != null
                            ? OpenAiChatModel.builder()
                                    .baseUrl(judgeEndpoint)
                                    .model(judgeModel)
                                    .apiKeyEnv(judgeApiKeyEnv)
                                    .temperature(0.0)
                                    .maxTokens(256)
                                    .build()
                            : null;
            checkGates(configs);
            return run(configs, generate, encoder, judge);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load the BERTScore encoder: " + e.getMessage(), e);
        }
    }

    /** Gates name configurations of this run: checked before any model loads. */
    private void checkGates(List<Evaluation.Config> configs) {
        List<String> names = configs.stream().map(Evaluation.Config::name).toList();
        for (String gate : failIfWorse) {
            for (String name : gate.split(":", -1)) {
                if (!names.contains(name)) {
                    throw new ParameterException(
                            spec.commandLine(),
                            "--fail-if-worse " + gate + ": no configuration " + name + " in this run (it has "
                                    + String.join(", ", names) + ")");
                }
            }
        }
    }

    private int run(List<Evaluation.Config> configs, boolean generate, BertEncoder encoder, JudgeModel judge)
            throws IOException {
        List<AnswerMetrics> metrics = new ArrayList<>();
        if (judge != null) {
            LlmJudge llmJudge = new LlmJudge(judge);
            metrics.add(new AnswerMetrics() {
                @Override
                public List<String> fields() {
                    return List.of("judge_rating");
                }

                @Override
                public Map<String, Double> score(String question, String answer, String reference) {
                    OptionalDouble rating =
                            llmJudge.judge(question, answer, reference).rating();
                    // An unparsed verdict has no rating: the field is left out, not made up.
                    return rating.isPresent() ? Map.of("judge_rating", rating.getAsDouble()) : Map.of();
                }
            });
        }
        AnswerMetrics extra = null;
        if (encoder != null) {
            BertScore bs = BertScore.builder(encoder).build();
            extra = new AnswerMetrics() {
                @Override
                public List<String> fields() {
                    return List.of("bertscore_p", "bertscore_r", "bertscore_f");
                }

                @Override
                public Map<String, Double> score(String question, String answer, String reference) {
                    BertScore.Score sc = bs.score(answer, reference);
                    Map<String, Double> m = new LinkedHashMap<>();
                    m.put("bertscore_p", sc.precision());
                    m.put("bertscore_r", sc.recall());
                    m.put("bertscore_f", sc.f1());
                    return m;
                }
            };
        }
        if (extra != null) {
            metrics.add(0, extra);
        }
        AnswerMetrics all = metrics.isEmpty() ? null : combine(metrics);
        Medqa.onInterrupt("rerun the same command to continue: the answered questions are kept in "
                + out.resolve("predictions.jsonl"));
        Evaluation evaluation = Evaluation.builder()
                .configs(configs)
                .answerMetrics(all)
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
            print(s);
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
        return gates(out);
    }

    /** The --fail-if-worse gates on the folder's predictions: 0 when all hold, {@link #GATE_FAILED} otherwise. */
    private int gates(Path folder) {
        int code = 0;
        for (String gate : failIfWorse) {
            String[] parts = gate.split(":", -1);
            Evaluation.Comparison c = Evaluation.compare(folder, parts[0], parts[1], bootstrap, seed);
            boolean worse = c.significantlyWorse(0.05);
            stdout.printf(
                    Locale.ROOT,
                    "gate %s vs %s: accuracy %+.3f (95%% CI %+.3f to %+.3f) on %d questions, McNemar p %.4f: %s%n",
                    c.config(),
                    c.baseline(),
                    c.accuracyDifference(),
                    c.accuracyDifferenceCi95()[0],
                    c.accuracyDifferenceCi95()[1],
                    c.n(),
                    c.mcnemarP(),
                    worse ? "FAILED (significantly worse)" : "passed");
            code = worse ? GATE_FAILED : code;
        }
        return code;
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

    private static AnswerMetrics combine(List<AnswerMetrics> parts) {
        return new AnswerMetrics() {
            @Override
            public List<String> fields() {
                return parts.stream().flatMap(p -> p.fields().stream()).toList();
            }

            @Override
            public Map<String, Double> score(String question, String answer, String reference) {
                Map<String, Double> m = new LinkedHashMap<>();
                parts.forEach(p -> m.putAll(p.score(question, answer, reference)));
                return m;
            }
        };
    }

    private void print(Evaluation.ConfigSummary s) {
        stdout.printf(
                Locale.ROOT,
                "%s: n %d, accuracy %.3f (95%% CI %.3f-%.3f), macro-F1 %.3f (%.3f-%.3f)%s%n",
                s.name(),
                s.n(),
                s.accuracy(),
                s.accuracyCi95()[0],
                s.accuracyCi95()[1],
                s.macroF1(),
                s.macroF1Ci95()[0],
                s.macroF1Ci95()[1],
                s.truncatedQuestions() > 0 ? ", " + s.truncatedQuestions() + " abstracts cut to fit" : "");
    }
}
