package ai.medqa.eval;

import ai.medqa.MedQA;
import ai.medqa.common.AppendLog;
import ai.medqa.common.Json;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.metrics.lexical.PairScorer;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PubMedQA evaluation run, in likelihood mode (lm-evaluation-harness's scoring) or generate mode
 * (the notebook's: answers read by AnswerExtractor and scored with the lexical metrics), over one or
 * more configurations, writing into one folder:
 *
 * <ul>
 *   <li>{@code run.json}: what the run is (model, data selection, encoding); a restart into the same
 *       folder with anything else is refused, naming what changed;
 *   <li>{@code predictions.jsonl}: one line per (configuration, question), appended and synced as each
 *       finishes, so a run killed at any moment continues where it stopped (a half-written last line
 *       is dropped and redone; nothing is done twice);
 *   <li>{@code summary.json} and {@code report.md}: accuracy and macro-F1 with 95% percentile-bootstrap
 *       intervals over questions in PMID order, written atomically at the end ({@link #report}).
 * </ul>
 *
 * <pre>{@code
 * Summary s = Evaluation.builder().model(Path.of("Mistral-7B-Instruct-v0.1")).out(Path.of("eval")).build().run();
 * }</pre>
 */
public final class Evaluation {
    private static final Logger log = LoggerFactory.getLogger(Evaluation.class);
    private static final ObjectMapper JSON = Json.MAPPER;
    static final String CONFIG = "harness";
    static final String RUN_FILE = "run.json";
    static final String PREDICTIONS_FILE = "predictions.jsonl";
    static final String SUMMARY_FILE = "summary.json";
    static final String REPORT_FILE = "report.md";
    /** Characters of the shortest JSON answer, {"answer":"no","explanation":""}: a budget that always closes it. */
    static final int MIN_JSON_TOKENS = 32;

    private final Builder settings;
    private final List<PubMedQaItem> items;

    private Evaluation(Builder settings, List<PubMedQaItem> items) {
        this.settings = settings;
        this.items = items;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * One configuration: a name, the LoRA adapter to apply (null: none; loaded by the model loader
     * under this name), and whether the abstract is part of the context.
     */
    public record Config(
            String name,
            String adapter,
            boolean contexts,
            String systemPrompt,
            GenerationConfig sampling,
            String template) {
        public Config {
            Objects.requireNonNull(name, "name");
            if (template != null) {
                Prompts.check(template, "configuration " + name + ": template");
            }
            if (!name.matches("[A-Za-z0-9_.+@-]+")) {
                throw new IllegalArgumentException(
                        "configuration name \"" + name + "\": letters, digits and _ . + @ - only");
            }
        }

        /** A likelihood configuration: no system prompt, no sampling, the harness's template. */
        public Config(String name, String adapter, boolean contexts) {
            this(name, adapter, contexts, null, null, null);
        }

        /** A configuration with the default template of its mode. */
        public Config(String name, String adapter, boolean contexts, String systemPrompt, GenerationConfig sampling) {
            this(name, adapter, contexts, systemPrompt, sampling, null);
        }
    }

    /** How answers are scored. */
    public enum Mode {
        /** lm-evaluation-harness's: the most likely of " yes", " no", " maybe". */
        LIKELIHOOD,
        /** The notebook's: the model writes an answer, AnswerExtractor reads yes/no/maybe from it. */
        GENERATE
    }

    /**
     * How generate mode's answers are written. {@link #NONE}: free text, the prediction read by
     * AnswerExtractor (an answer it cannot read is "unknown"). {@link #JSON}: every answer is
     * constrained to {@link #PUBMEDQA_JSON_SCHEMA}, {@code {"answer": "yes"|"no"|"maybe",
     * "explanation": "..."}}, the prediction is its answer field and the lexical metrics (and any
     * answer metrics) score its explanation, so no answer is "unknown" for its format.
     */
    public enum AnswerConstraint {
        NONE,
        JSON;

        /** Its name in flags, run.json and the summary: {@code none}, {@code json}. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** {@code none} or {@code json} (any case). */
        public static AnswerConstraint parse(String label) {
            for (AnswerConstraint c : values()) {
                if (c.label().equalsIgnoreCase(label.trim())) {
                    return c;
                }
            }
            throw new IllegalArgumentException("answer constraint \"" + label + "\": expected none or json");
        }
    }

    /**
     * The answers of {@link AnswerConstraint#JSON}. The answer comes first so that it is decided in the
     * first few tokens (and can be read even from an answer cut later). The explanation has no
     * {@code maxLength}: {@code max_new_tokens} bounds it already (the constraint closes the string and
     * the object in time), while a bound of N characters would make N automaton states, each with its
     * own cached set of allowed tokens (up to 32,000 ids, ~256 KB): ~150 MB and 600 first-use passes
     * over the vocabulary for a 600-character bound.
     */
    public static final String PUBMEDQA_JSON_SCHEMA = """
            {"type": "object", "properties": {"answer": {"enum": ["yes", "no", "maybe"]}, "explanation": {"type": "string"}},
             "required": ["answer", "explanation"], "additionalProperties": false}""";

    /**
     * The rows of likelihood mode: the base model ({@code harness}) and one per adapter
     * ({@code finetuned-NAME}), each scored with the abstract ({@code contexts} {@code with}), without it
     * ({@code without}, a {@code +no-contexts} row) or both.
     */
    public static List<Config> likelihoodPreset(List<String> adapters, String contexts) {
        return EvaluationPresets.likelihood(adapters, contexts);
    }

    /**
     * The notebook's rows for generate mode, in its order: {@code zero-shot} (the raw question,
     * temperature 1.0), {@code system-prompt} (MedQA's medical-assistant role prompt, 1.0),
     * {@code temperature-0.7} (role prompt, 0.7), then {@code finetuned-NAME} per adapter (role prompt,
     * 0.7); top-p 0.95, {@code maxNewTokens}, one seed for all. {@code contexts}: {@code with},
     * {@code without} (default in the notebook) or {@code both} (a {@code +contexts} row after each).
     */
    public static List<Config> notebookPreset(List<String> adapters, String contexts, int maxNewTokens, long seed) {
        return EvaluationPresets.notebook(adapters, contexts, maxNewTokens, seed);
    }

    /**
     * Each configuration once per setting of the notebook's sampling grid (temperature 0.3/0.7 x top-p
     * 0.8/0.95 x repetition penalty 1.0/1.2, {@link ParameterGrid#product}'s order), named
     * {@code <name>@t<temperature>-p<top_p>-r<penalty>}.
     */
    public static List<Config> withGrid(List<Config> configs) {
        return EvaluationPresets.grid(configs);
    }

    /** The configuration without adapter, contexts included: lm-evaluation-harness's setting. */
    public static final Config HARNESS = new Config(CONFIG, null, true);

    /** Summary of one configuration. */
    public record ConfigSummary(
            String name,
            String mode,
            int n,
            double accuracy,
            double[] accuracyCi95,
            double macroF1,
            double[] macroF1Ci95,
            int truncatedQuestions,
            Map<String, double[]> metrics) {

        /** What {@code medqa eval} prints of it: n, accuracy and macro-F1 with their intervals, abstracts cut. */
        public String line() {
            return String.format(
                    Locale.ROOT,
                    "%s: n %d, accuracy %s, macro-F1 %s%s",
                    name,
                    n,
                    withInterval(accuracy, accuracyCi95, "95% CI "),
                    withInterval(macroF1, macroF1Ci95, ""),
                    truncatedQuestions > 0 ? ", " + truncatedQuestions + " abstracts cut to fit" : "");
        }

        /** {@code 0.550 (0.480-0.620)}, the interval's numbers after {@code label}. */
        static String withInterval(double value, double[] ci95, String label) {
            return String.format(Locale.ROOT, "%.3f (%s%.3f-%.3f)", value, label, ci95[0], ci95[1]);
        }
    }

    /** Runs (or continues) the evaluation and writes the summary and report. */
    public List<ConfigSummary> run() {
        Path out = settings.out;
        claimOut();
        Path predictions = out.resolve(PREDICTIONS_FILE);
        AppendLog predictionsLog = AppendLog.open(predictions);
        Set<String> done = RunLedger.done(predictionsLog);
        int remaining = 0;
        for (Config c : settings.configs) {
            remaining += (int) items.stream()
                    .filter(i -> !done.contains(RunLedger.key(c.name(), i.pmid())))
                    .count();
        }
        if (remaining > 0) {
            log.info(
                    "PubMedQA {}: {} of {} (configuration, question) pairs to answer ({} already in {})",
                    settings.mode.name().toLowerCase(Locale.ROOT),
                    remaining,
                    items.size() * settings.configs.size(),
                    items.size() * settings.configs.size() - remaining,
                    predictions);
            try (MedQA medqa = settings.medqa.get();
                    predictionsLog) {
                PairScorer pairs = new PairScorer();
                RunProgress progress = new RunProgress(remaining, settings.progress);
                // Likelihood lines are appended one question at a time (a kill loses at most one),
                // generate lines one batch at a time.
                int chunkSize = settings.mode == Mode.GENERATE ? settings.batchSize : 1;
                for (Config config : settings.configs) {
                    List<PubMedQaItem> todo = items.stream()
                            .filter(i -> !done.contains(RunLedger.key(config.name(), i.pmid())))
                            .toList();
                    if (todo.isEmpty()) {
                        continue;
                    }
                    useAdapter(medqa, config);
                    for (int from = 0; from < todo.size(); from += chunkSize) {
                        List<PubMedQaItem> chunk = todo.subList(from, Math.min(todo.size(), from + chunkSize));
                        for (ObjectNode line : PredictionLines.of(
                                medqa,
                                config,
                                chunk,
                                settings.mode,
                                settings.bos,
                                pairs,
                                settings.answerMetrics,
                                settings.constrain)) {
                            predictionsLog.append(line);
                            progress.add(line.get("prediction")
                                    .asText()
                                    .equals(line.get("label").asText()));
                        }
                    }
                }
            }
        }
        return report(out, settings.bootstrap, settings.seed);
    }

    /**
     * The prediction lines of {@code items} under {@code config}, exactly as {@link #run} writes them
     * (generate mode: one left-padded batch of all of them). The caller makes the configuration's
     * adapter the active one; {@code medqa} is only read, so callers sharing it between threads must
     * agree on the adapter. For distributed runs ({@code medqa-spark}), where each worker scores its
     * share of the (configuration, question) pairs.
     */
    public static List<ObjectNode> lines(MedQA medqa, Config config, List<PubMedQaItem> items, Mode mode, boolean bos) {
        return lines(medqa, config, items, mode, bos, AnswerConstraint.NONE);
    }

    /** {@link #lines(MedQA, Config, List, Mode, boolean)} with generate mode's answers written as {@code constrain} says. */
    public static List<ObjectNode> lines(
            MedQA medqa, Config config, List<PubMedQaItem> items, Mode mode, boolean bos, AnswerConstraint constrain) {
        return PredictionLines.of(
                medqa, config, items, mode, bos, mode == Mode.GENERATE ? new PairScorer() : null, null, constrain);
    }

    /**
     * Creates the output folder and writes {@code run.json}, or checks that the one there describes
     * this run (refusing another, naming what changed).
     */
    public void claimOut() {
        RunLedger.claim(settings.out, fingerprint());
    }

    /**
     * Writes {@code predictions.jsonl} from lines scored elsewhere (by {@link #lines}, in any order),
     * in the order {@link #run} writes them (configurations, then questions, as selected), then the
     * summary and report as {@link #report} does.
     *
     * @throws IllegalStateException when a line is not of this run, a pair appears twice or is missing
     */
    public List<ConfigSummary> reportFrom(Collection<String> lines) {
        List<String> ordered = RunLedger.inRunOrder(settings.configs, items, lines);
        claimOut();
        RunLedger.rewrite(settings.out, ordered);
        return report(settings.out, settings.bootstrap, settings.seed);
    }

    /** The output folder. */
    public Path out() {
        return settings.out;
    }

    /** The questions selected, in the order given or found. */
    public List<PubMedQaItem> questions() {
        return items;
    }

    public List<Config> configs() {
        return settings.configs;
    }

    public Mode mode() {
        return settings.mode;
    }

    /** Whether prompts are encoded with the tokenizer's special tokens (BOS). */
    public boolean bos() {
        return settings.bos;
    }

    /** Generate mode's batch size. */
    public int batchSize() {
        return settings.batchSize;
    }

    /** How generate mode's answers are written ({@link Builder#constrain}). */
    public AnswerConstraint constrain() {
        return settings.constrain;
    }

    /** Whether answer metrics beyond the lexical ones were set ({@link Builder#answerMetrics}). */
    public boolean hasAnswerMetrics() {
        return settings.answerMetrics != null;
    }

    private static void useAdapter(MedQA medqa, Config config) {
        if (config.adapter() != null && !medqa.adapters().contains(config.adapter())) {
            throw new IllegalArgumentException("configuration " + config.name() + " asks for adapter \""
                    + config.adapter() + "\", which the model was not loaded with (loaded: " + medqa.adapters() + ")");
        }
        medqa.useAdapter(config.adapter());
    }

    /** Writes {@code summary.json} and {@code report.md} of the predictions in {@code out} (atomically). */
    public static List<ConfigSummary> report(Path out, int bootstrap, long seed) {
        return EvaluationReport.write(out, bootstrap, seed);
    }

    /**
     * One configuration against another on the questions both answered: the accuracy difference
     * ({@code config} minus {@code baseline}) with its 95% bootstrap interval, and McNemar's exact test
     * on the discordant pairs ({@code b}: only the baseline right, {@code c}: only the configuration).
     */
    public record Comparison(
            String config,
            String baseline,
            int n,
            double accuracyDifference,
            double[] accuracyDifferenceCi95,
            int mcnemarB,
            int mcnemarC,
            double mcnemarP) {

        /** Worse with McNemar's p below {@code alpha}: what an evaluation gate refuses. */
        public boolean significantlyWorse(double alpha) {
            return accuracyDifference < 0 && mcnemarP < alpha;
        }

        /** {@code -0.125 (-0.300 to +0.050)}, the interval's numbers after {@code label}: as report.md and the gates print it. */
        public String accuracyDifferenceText(String label) {
            return String.format(
                    Locale.ROOT,
                    "%+.3f (%s%+.3f to %+.3f)",
                    accuracyDifference,
                    label,
                    accuracyDifferenceCi95[0],
                    accuracyDifferenceCi95[1]);
        }
    }

    /**
     * {@code config} against {@code baseline} from the predictions in the evaluation folder {@code out}
     * (as its report computes them, with the same bootstrap).
     *
     * @throws IllegalArgumentException naming the configuration that is not in the folder
     */
    public static Comparison compare(Path out, String config, String baseline, int bootstrap, long seed) {
        return EvaluationReport.compare(out, config, baseline, bootstrap, seed);
    }

    private ObjectNode fingerprint() {
        ObjectNode f = JSON.createObjectNode();
        f.put("mode", settings.mode.name().toLowerCase(Locale.ROOT));
        ArrayNode configs = f.putArray("configs");
        for (Config c : settings.configs) {
            configs.addObject()
                    .put("name", c.name())
                    .put("adapter", c.adapter())
                    .put("contexts", c.contexts())
                    .put("system_prompt", c.systemPrompt())
                    .put("sampling", c.sampling() == null ? null : c.sampling().toString())
                    .put("template", c.template());
        }
        f.put("bos", settings.bos);
        // Only when set: folders of runs from before the option continue as they were (none).
        if (settings.constrain != AnswerConstraint.NONE) {
            f.put("constrain", settings.constrain.label());
        }
        if (settings.answerMetrics != null) {
            ArrayNode extra = f.putArray("answer_metrics");
            settings.answerMetrics.fields().forEach(extra::add);
        }
        f.put("model", settings.modelDescription);
        f.put("data", settings.data.source());
        f.put("questions", items.size());
        f.put(
                "questions_sha256",
                sha256(items.stream()
                        .map(i -> i.pmid() + "\t" + i.question() + "\t"
                                + i.finalDecision().text() + "\n")
                        .collect(Collectors.joining())));
        return f;
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Where a run stands after each question: what a terminal progress bar shows. */
    public record ProgressUpdate(
            int done, int total, double questionsPerSecond, long etaSeconds, double runningAccuracy) {}

    /** Settings of a run. */
    public static final class Builder {
        private Supplier<MedQA> medqa;
        private String modelDescription;
        private PubMedQaData data;
        private PubMedQaData.Split split = PubMedQaData.Split.TEST;
        private List<String> pubids = List.of();
        private int limit;
        private boolean bos = true;
        private Path out;
        private int bootstrap = 1000;
        private long seed;
        private List<Config> configs = List.of(HARNESS);
        private Mode mode = Mode.LIKELIHOOD;
        private AnswerMetrics answerMetrics;
        private Consumer<ProgressUpdate> progress;
        private int batchSize = 8;
        private AnswerConstraint constrain = AnswerConstraint.NONE;

        /**
         * Generate mode: free-text answers ({@link AnswerConstraint#NONE}, default) or answers
         * constrained to {@link #PUBMEDQA_JSON_SCHEMA} ({@link AnswerConstraint#JSON}).
         */
        public Builder constrain(AnswerConstraint constrain) {
            this.constrain = Objects.requireNonNull(constrain, "constrain");
            return this;
        }

        /** Generate mode: questions answered together in one left-padded batch (default 8). */
        public Builder batchSize(int batchSize) {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
            }
            this.batchSize = batchSize;
            return this;
        }

        /** Called after each question (for a progress bar); log lines are written either way. */
        public Builder onProgress(Consumer<ProgressUpdate> listener) {
            this.progress = listener;
            return this;
        }

        /** Generate mode: metrics beyond the lexical ones for each answer (BERTScore, a judge); the caller closes them. */
        public Builder answerMetrics(AnswerMetrics metrics) {
            this.answerMetrics = metrics;
            return this;
        }

        /** Likelihood (default) or generate. */
        public Builder mode(Mode mode) {
            this.mode = Objects.requireNonNull(mode, "mode");
            return this;
        }

        private Builder() {}

        /** The configurations to score, the first being the baseline of the comparisons (default: harness). */
        public Builder configs(List<Config> configs) {
            if (configs.isEmpty()) {
                throw new IllegalArgumentException("at least one configuration is needed");
            }
            Set<String> names = new HashSet<>();
            for (Config c : configs) {
                if (!names.add(c.name())) {
                    throw new IllegalArgumentException("two configurations are named " + c.name());
                }
            }
            this.configs = List.copyOf(configs);
            return this;
        }

        /** A model folder, loaded as {@code loader} configures it (precision, quantization, adapters). */
        public Builder model(Path dir, Supplier<MedQA> loader) {
            this.modelDescription = dir.toAbsolutePath().normalize().toString();
            this.medqa = Objects.requireNonNull(loader, "loader");
            return this;
        }

        /** A model folder loaded with MedQA's defaults. */
        public Builder model(Path dir) {
            return model(dir, () -> MedQA.builder().model(dir).build());
        }

        /** The questions' source; the bundled ori_pqal.json when not set. */
        public Builder data(PubMedQaData data) {
            this.data = data;
            return this;
        }

        public Builder split(PubMedQaData.Split split) {
            this.split = Objects.requireNonNull(split, "split");
            return this;
        }

        /** Only these PMIDs, from the whole data set, in this order. */
        public Builder pubids(List<String> pubids) {
            this.pubids = List.copyOf(pubids);
            return this;
        }

        /** The first {@code limit} questions of the split (0 = all). */
        public Builder limit(int limit) {
            if (limit < 0) {
                throw new IllegalArgumentException("limit must be >= 0, got " + limit);
            }
            this.limit = limit;
            return this;
        }

        /**
         * Encode with the tokenizer's special tokens (BOS), as its tokenizer_config says (default);
         * false encodes without them, lm-evaluation-harness's own default for Hugging Face models.
         */
        public Builder bos(boolean bos) {
            this.bos = bos;
            return this;
        }

        public Builder out(Path out) {
            this.out = Objects.requireNonNull(out, "out");
            return this;
        }

        /** Bootstrap resamples for the intervals (default 1,000). */
        public Builder bootstrap(int resamples) {
            if (resamples < 0) {
                throw new IllegalArgumentException("bootstrap resamples must be >= 0, got " + resamples);
            }
            this.bootstrap = resamples;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Checks the settings and selects the questions, before any model loads. */
        public Evaluation build() {
            if (medqa == null) {
                throw new IllegalStateException("no model: call model(dir) before build()");
            }
            if (out == null) {
                throw new IllegalStateException("no output folder: call out(dir) before build()");
            }
            if (Files.exists(out) && !Files.isDirectory(out)) {
                throw new IllegalArgumentException("--out " + out + " is a file; the evaluation writes a folder");
            }
            for (Config c : configs) {
                if (mode == Mode.LIKELIHOOD && c.sampling() != null) {
                    throw new IllegalArgumentException("configuration " + c.name()
                            + ": sampling does not apply in likelihood mode (the answers are scored, not generated)");
                }
                if (mode == Mode.GENERATE && c.sampling() == null) {
                    throw new IllegalArgumentException(
                            "configuration " + c.name() + ": generate mode needs sampling settings");
                }
            }
            if (constrain != AnswerConstraint.NONE && mode != Mode.GENERATE) {
                throw new IllegalArgumentException("constrain " + constrain.label()
                        + " applies to generate mode (likelihood " + "mode scores the three answers, it writes none)");
            }
            if (constrain == AnswerConstraint.JSON) {
                for (Config c : configs) {
                    if (c.sampling().constraint().isPresent()) {
                        throw new IllegalArgumentException("configuration " + c.name() + " has its own constraint ("
                                + c.sampling().constraint().get() + "); constrain json sets the answers' format");
                    }
                    // {"answer":"no","explanation":""} is 32 characters: with fewer tokens the constraint cannot
                    // promise to close the JSON (the answer field, first, is still read from a cut answer).
                    if (c.sampling().maxNewTokens() < MIN_JSON_TOKENS) {
                        log.warn(
                                "configuration {}: max_new_tokens {} may cut JSON answers before they close (at least {} "
                                        + "guarantees whole ones)",
                                c.name(),
                                c.sampling().maxNewTokens(),
                                MIN_JSON_TOKENS);
                    }
                }
            }
            if (data == null) {
                data = PubMedQaData.bundled();
            }
            List<PubMedQaItem> items = data.select(split, pubids, limit);
            if (items.isEmpty()) {
                throw new IllegalArgumentException("no questions selected from " + data.source());
            }
            Map<String, Integer> seen = new HashMap<>();
            for (PubMedQaItem i : items) {
                if (seen.merge(i.pmid(), 1, Integer::sum) > 1) {
                    throw new IllegalArgumentException("PMID " + i.pmid() + " is selected twice");
                }
            }
            return new Evaluation(this, items);
        }
    }
}
