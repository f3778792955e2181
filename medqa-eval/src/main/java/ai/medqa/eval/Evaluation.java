package ai.medqa.eval;

import ai.medqa.MedQA;
import ai.medqa.chat.Conversation;
import ai.medqa.common.AppendLog;
import ai.medqa.common.AtomicFiles;
import ai.medqa.common.Json;
import ai.medqa.generate.Constraint;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.metrics.lexical.PairScorer;
import ai.medqa.metrics.pubmedqa.AnswerExtractor;
import ai.medqa.metrics.pubmedqa.Classification;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import ai.medqa.metrics.pubmedqa.PubMedQaLabel;
import ai.medqa.metrics.stats.Bootstrap;
import ai.medqa.metrics.stats.NumpyRandom;
import ai.medqa.metrics.stats.Percentile;
import ai.medqa.model.ContextOverflowException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

    /** Compiled once for every run of the process (the automaton, and its per-state token sets as used). */
    private static final class JsonAnswers {
        static final Constraint CONSTRAINT;

        static {
            try {
                CONSTRAINT = Constraint.jsonSchema(JSON.readTree(PUBMEDQA_JSON_SCHEMA));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** {@code {"answer": "yes"} } even when the rest was cut: the answer field is first and decided early. */
    private static final Pattern ANSWER_FIELD = Pattern.compile("\\s*\\{\\s*\"answer\"\\s*:\\s*\"(yes|no|maybe)\"");

    /**
     * The answer field (or {@link Classification#UNKNOWN}) and explanation of a JSON answer; one cut
     * before its end (the budget ran out) is closed where it stopped to read what it has.
     */
    record JsonAnswer(String answer, String explanation, boolean complete) {
        static JsonAnswer read(String text) {
            JsonNode value = parse(text);
            boolean complete = value != null;
            // Cut: close the explanation string where it stopped (dropping half an escape) and the object.
            for (int drop = 0; value == null && drop <= 6 && drop <= text.length(); drop++) {
                value = parse(text.substring(0, text.length() - drop) + "\"}");
            }
            Matcher m = ANSWER_FIELD.matcher(text);
            // A cut one closed early may hold half a word ({"answer":"ye"}): only the three labels count.
            String answer = value != null && value.hasNonNull("answer")
                    ? value.get("answer").asText()
                    : m.lookingAt() ? m.group(1) : Classification.UNKNOWN;
            if (!List.of("yes", "no", "maybe").contains(answer)) {
                answer = Classification.UNKNOWN;
            }
            String explanation = value != null && value.hasNonNull("explanation")
                    ? value.get("explanation").asText()
                    : "";
            return new JsonAnswer(answer, explanation, complete);
        }

        private static JsonNode parse(String text) {
            try {
                JsonNode n = JSON.readTree(text);
                return n != null && n.isObject() ? n : null;
            } catch (IOException e) {
                return null;
            }
        }
    }

    /**
     * The rows of likelihood mode: the base model ({@code harness}) and one per adapter
     * ({@code finetuned-NAME}), each scored with the abstract ({@code contexts} {@code with}), without it
     * ({@code without}, a {@code +no-contexts} row) or both.
     */
    public static List<Config> likelihoodPreset(List<String> adapters, String contexts) {
        if (!List.of("with", "without", "both").contains(contexts)) {
            throw new IllegalArgumentException("contexts " + contexts + ": expected with, without or both");
        }
        List<String> models = new ArrayList<>();
        models.add(null);
        models.addAll(adapters);
        List<Config> configs = new ArrayList<>();
        for (String adapter : models) {
            String name = adapter == null ? "harness" : "finetuned-" + adapter;
            if (!contexts.equals("without")) {
                configs.add(new Config(name, adapter, true));
            }
            if (!contexts.equals("with")) {
                configs.add(new Config(name + "+no-contexts", adapter, false));
            }
        }
        return configs;
    }

    /**
     * The notebook's rows for generate mode, in its order: {@code zero-shot} (the raw question,
     * temperature 1.0), {@code system-prompt} (MedQA's medical-assistant role prompt, 1.0),
     * {@code temperature-0.7} (role prompt, 0.7), then {@code finetuned-NAME} per adapter (role prompt,
     * 0.7); top-p 0.95, {@code maxNewTokens}, one seed for all. {@code contexts}: {@code with},
     * {@code without} (default in the notebook) or {@code both} (a {@code +contexts} row after each).
     */
    public static List<Config> notebookPreset(List<String> adapters, String contexts, int maxNewTokens, long seed) {
        GenerationConfig t10 = MedQA.ASK_DEFAULTS.toBuilder()
                .temperature(1.0)
                .maxNewTokens(maxNewTokens)
                .seed(seed)
                .build();
        GenerationConfig t07 = t10.toBuilder().temperature(0.7).build();
        List<Config> base = new ArrayList<>();
        base.add(new Config("zero-shot", null, false, null, t10));
        base.add(new Config("system-prompt", null, false, MedQA.MEDICAL_ASSISTANT_PROMPT, t10));
        base.add(new Config("temperature-0.7", null, false, MedQA.MEDICAL_ASSISTANT_PROMPT, t07));
        for (String a : adapters) {
            base.add(new Config("finetuned-" + a, a, false, MedQA.MEDICAL_ASSISTANT_PROMPT, t07));
        }
        List<Config> out = new ArrayList<>();
        for (Config c : base) {
            if (!contexts.equals("with")) {
                out.add(c);
            }
            if (!contexts.equals("without")) {
                out.add(new Config(
                        c.name() + "+contexts", c.adapter(), true, c.systemPrompt(), c.sampling(), c.template()));
            }
        }
        return out;
    }

    /**
     * Each configuration once per setting of the notebook's sampling grid (temperature 0.3/0.7 x top-p
     * 0.8/0.95 x repetition penalty 1.0/1.2, {@link ParameterGrid#product}'s order), named
     * {@code <name>@t<temperature>-p<top_p>-r<penalty>}.
     */
    public static List<Config> withGrid(List<Config> configs) {
        List<Config> out = new ArrayList<>();
        for (Config c : configs) {
            for (GenerationConfig g : ParameterGrid.product(
                    c.sampling(), new double[] {0.3, 0.7}, new double[] {0.8, 0.95}, new double[] {1.0, 1.2})) {
                String name = String.format(
                        Locale.ROOT, "%s@t%s-p%s-r%s", c.name(), g.temperature(), g.topP(), g.repetitionPenalty());
                out.add(new Config(name, c.adapter(), c.contexts(), c.systemPrompt(), g, c.template()));
            }
        }
        return out;
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
            Map<String, double[]> metrics) {}

    /** Runs (or continues) the evaluation and writes the summary and report. */
    public List<ConfigSummary> run() {
        Path out = settings.out;
        claimOut();
        Path predictions = out.resolve(PREDICTIONS_FILE);
        AppendLog predictionsLog = AppendLog.open(predictions);
        Set<String> done = done(predictionsLog);
        int remaining = 0;
        for (Config c : settings.configs) {
            remaining += (int) items.stream()
                    .filter(i -> !done.contains(key(c.name(), i.pmid())))
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
                Progress progress = new Progress(remaining, settings.progress);
                // Likelihood lines are appended one question at a time (a kill loses at most one),
                // generate lines one batch at a time.
                int chunkSize = settings.mode == Mode.GENERATE ? settings.batchSize : 1;
                for (Config config : settings.configs) {
                    List<PubMedQaItem> todo = items.stream()
                            .filter(i -> !done.contains(key(config.name(), i.pmid())))
                            .toList();
                    if (todo.isEmpty()) {
                        continue;
                    }
                    useAdapter(medqa, config);
                    for (int from = 0; from < todo.size(); from += chunkSize) {
                        List<PubMedQaItem> chunk = todo.subList(from, Math.min(todo.size(), from + chunkSize));
                        for (ObjectNode line : lines(
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
        return lines(medqa, config, items, mode, bos, mode == Mode.GENERATE ? new PairScorer() : null, null, constrain);
    }

    private static List<ObjectNode> lines(
            MedQA medqa,
            Config config,
            List<PubMedQaItem> items,
            Mode mode,
            boolean bos,
            PairScorer pairs,
            AnswerMetrics answerMetrics,
            AnswerConstraint constrain) {
        List<ObjectNode> out = new ArrayList<>(items.size());
        if (mode == Mode.GENERATE) {
            List<Answer> answers = answers(medqa, config, items, constrain);
            int cut = 0;
            for (int k = 0; k < items.size(); k++) {
                PubMedQaItem item = items.get(k);
                Answer answer = answers.get(k);
                ObjectNode line = newLine(config, item);
                // What the metrics score: the free text, or the JSON answer's explanation (not its syntax).
                String prose = answer.text();
                if (constrain == AnswerConstraint.JSON) {
                    JsonAnswer json = JsonAnswer.read(answer.text());
                    line.put("prediction", json.answer());
                    prose = json.explanation();
                    cut += json.complete() ? 0 : 1;
                } else {
                    line.put(
                            "prediction",
                            AnswerExtractor.extract(answer.text())
                                    .map(PubMedQaLabel::text)
                                    .orElse(Classification.UNKNOWN));
                }
                line.put("answer", answer.text());
                line.put("truncated_contexts", answer.truncated());
                pairs.score(prose, item.longAnswer()).forEach(line::put);
                if (answerMetrics != null) {
                    answerMetrics
                            .score(item.question(), prose, item.longAnswer())
                            .forEach(line::put);
                }
                out.add(line);
            }
            if (cut > 0) {
                log.warn(
                        "{}: {} of {} JSON answers were cut by max_new_tokens={} before they closed; their answer field "
                                + "was read from what they wrote (raise max_new_tokens for whole explanations)",
                        config.name(),
                        cut,
                        items.size(),
                        config.sampling().maxNewTokens());
            }
            return out;
        }
        LikelihoodScorer scorer = new LikelihoodScorer(medqa.model(), medqa.tokenizer(), bos);
        for (PubMedQaItem item : items) {
            LikelihoodScorer.Scored s = scorer.score(item, config.contexts(), config.template(), config.systemPrompt());
            ObjectNode line = newLine(config, item);
            line.put("prediction", s.prediction());
            ObjectNode ll = line.putObject("loglikelihood");
            s.loglikelihood().forEach(ll::put);
            line.put("truncated_contexts", s.truncated());
            out.add(line);
        }
        return out;
    }

    private static ObjectNode newLine(Config config, PubMedQaItem item) {
        ObjectNode line = JSON.createObjectNode();
        line.put("config", config.name());
        line.put("pubid", item.pmid());
        line.put("label", item.finalDecision().text());
        return line;
    }

    /**
     * Creates the output folder and writes {@code run.json}, or checks that the one there describes
     * this run (refusing another, naming what changed).
     */
    public void claimOut() {
        try {
            Files.createDirectories(settings.out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create --out " + settings.out + ": " + e.getMessage(), e);
        }
        checkOrWriteRun(settings.out.resolve(RUN_FILE), fingerprint());
    }

    /**
     * Writes {@code predictions.jsonl} from lines scored elsewhere (by {@link #lines}, in any order),
     * in the order {@link #run} writes them (configurations, then questions, as selected), then the
     * summary and report as {@link #report} does.
     *
     * @throws IllegalStateException when a line is not of this run, a pair appears twice or is missing
     */
    public List<ConfigSummary> reportFrom(Collection<String> lines) {
        Map<String, Integer> configIndex = new HashMap<>();
        for (int c = 0; c < settings.configs.size(); c++) {
            configIndex.put(settings.configs.get(c).name(), c);
        }
        Map<String, Integer> itemIndex = new HashMap<>();
        for (int i = 0; i < items.size(); i++) {
            itemIndex.put(items.get(i).pmid(), i);
        }
        String[] ordered = new String[settings.configs.size() * items.size()];
        for (String text : lines) {
            JsonNode line;
            try {
                line = JSON.readTree(text);
            } catch (IOException e) {
                throw new IllegalStateException("not a prediction line (" + e.getMessage() + "): " + text, e);
            }
            Integer c = line.hasNonNull("config")
                    ? configIndex.get(line.get("config").asText())
                    : null;
            Integer i =
                    line.hasNonNull("pubid") ? itemIndex.get(line.get("pubid").asText()) : null;
            if (c == null || i == null) {
                throw new IllegalStateException("a prediction of another run (configuration " + line.get("config")
                        + ", pubid " + line.get("pubid") + ")");
            }
            int at = c * items.size() + i;
            if (ordered[at] != null) {
                throw new IllegalStateException(
                        key(line.get("config").asText(), line.get("pubid").asText())
                                        .replace('\t', ' ') + " appears twice");
            }
            ordered[at] = text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
        }
        List<String> missing = new ArrayList<>();
        for (int at = 0; at < ordered.length; at++) {
            if (ordered[at] == null) {
                missing.add(settings.configs.get(at / items.size()).name() + " "
                        + items.get(at % items.size()).pmid());
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException(missing.size() + " of " + ordered.length
                    + " predictions are missing, first " + missing.subList(0, Math.min(5, missing.size())));
        }
        claimOut();
        AtomicFiles.write(settings.out.resolve(PREDICTIONS_FILE), o -> {
            for (String line : ordered) {
                o.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            }
        });
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

    /**
     * The notebook's generation: the question (after the abstract, when the configuration has
     * contexts) as the user turn of the chat template, the configuration's system prompt folded in,
     * its sampling settings.
     */
    static List<Answer> answers(MedQA medqa, Config config, List<PubMedQaItem> items, AnswerConstraint constrain) {
        List<int[]> prompts = new ArrayList<>();
        List<Integer> truncated = new ArrayList<>();
        for (PubMedQaItem item : items) {
            Prompt p = prompt(medqa, config, item);
            prompts.add(p.ids());
            truncated.add(p.truncated());
        }
        GenerationConfig sampling = constrain == AnswerConstraint.JSON
                ? config.sampling().toBuilder()
                        .constraint(JsonAnswers.CONSTRAINT)
                        .build()
                : config.sampling();
        List<Generation> generations = medqa.generateIdsBatch(prompts, sampling);
        List<Answer> out = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            out.add(new Answer(generations.get(i).text(), truncated.get(i)));
        }
        return out;
    }

    private record Prompt(int[] ids, int truncated) {}

    private static Prompt prompt(MedQA medqa, Config config, PubMedQaItem item) {
        int sections = config.contexts() ? item.contexts().size() : 0;
        while (true) {
            String template = config.template() != null
                    ? config.template()
                    : config.contexts() ? "Context: {context}\n\nQuestion: {question}" : "{question}";
            String user = Prompts.render(
                    template, item.question(), String.join("\n", item.contexts().subList(0, sections)));
            Conversation c =
                    config.systemPrompt() == null ? new Conversation() : new Conversation(config.systemPrompt());
            try {
                return new Prompt(
                        medqa.chatPromptIds(c.addUser(user), config.sampling()),
                        config.contexts() ? item.contexts().size() - sections : 0);
            } catch (ContextOverflowException e) {
                // Too long for the context with max_new_tokens: the abstract loses its last section,
                // never the question; with no abstract left the question itself does not fit.
                if (sections == 0) {
                    throw new ContextOverflowException("PMID " + item.pmid() + ": " + e.getMessage());
                }
                sections--;
            }
        }
    }

    /** A generated answer and how many abstract sections were left out to fit. */
    record Answer(String text, int truncated) {}

    private static void useAdapter(MedQA medqa, Config config) {
        if (config.adapter() != null && !medqa.adapters().contains(config.adapter())) {
            throw new IllegalArgumentException("configuration " + config.name() + " asks for adapter \""
                    + config.adapter() + "\", which the model was not loaded with (loaded: " + medqa.adapters() + ")");
        }
        medqa.useAdapter(config.adapter());
    }

    /** Writes {@code summary.json} and {@code report.md} of the predictions in {@code out} (atomically). */
    public static List<ConfigSummary> report(Path out, int bootstrap, long seed) {
        Map<String, List<ObjectNode>> byConfig = new LinkedHashMap<>();
        for (ObjectNode line : predictionLines(AppendLog.open(out.resolve(PREDICTIONS_FILE)))) {
            byConfig.computeIfAbsent(line.get("config").asText(), k -> new ArrayList<>())
                    .add(line);
        }
        List<ConfigSummary> summaries = new ArrayList<>();
        Map<String, int[][]> confusion = new LinkedHashMap<>();
        for (Map.Entry<String, List<ObjectNode>> e : byConfig.entrySet()) {
            List<ObjectNode> rows = new ArrayList<>(e.getValue());
            rows.sort(Comparator.comparing(
                            (ObjectNode r) -> numeric(r.get("pubid").asText()))
                    .thenComparing(r -> r.get("pubid").asText()));
            List<String> truth = rows.stream().map(r -> r.get("label").asText()).toList();
            List<String> predicted =
                    rows.stream().map(r -> r.get("prediction").asText()).toList();
            Classification c = Classification.evaluate(truth, predicted);
            confusion.put(e.getKey(), EvaluationCharts.counts(truth, predicted));
            double[][] ci = bootstrap(truth, predicted, bootstrap, seed);
            int truncated = (int) rows.stream()
                    .filter(r -> r.path("truncated_contexts").asInt() > 0)
                    .count();
            boolean generated = rows.get(0).has("answer");
            Map<String, double[]> metrics = new LinkedHashMap<>();
            if (generated) {
                for (String field : metricFields(rows)) {
                    double[] values = rows.stream()
                            .filter(r -> r.has(field))
                            .mapToDouble(r -> r.get(field).asDouble())
                            .toArray();
                    double[] mci = meanInterval(values, bootstrap, seed);
                    metrics.put(
                            field, new double[] {Arrays.stream(values).average().orElse(Double.NaN), mci[0], mci[1]});
                }
            }
            summaries.add(new ConfigSummary(
                    e.getKey(),
                    generated ? "generate" : "likelihood",
                    rows.size(),
                    c.accuracy(),
                    ci[0],
                    c.macroF1(),
                    ci[1],
                    truncated,
                    metrics));
        }
        String constrain = runConstraint(out).label();
        ObjectNode root = JSON.createObjectNode();
        root.put("answer_constraint", constrain);
        ArrayNode configs = root.putArray("configs");
        StringBuilder md =
                new StringBuilder("# PubMedQA evaluation\n\n| configuration | mode | n | accuracy (95% CI) | "
                        + "macro-F1 (95% CI) | abstracts cut to fit |\n|---|---|---|---|---|---|\n");
        for (ConfigSummary s : summaries) {
            ObjectNode c = configs.addObject();
            c.put("name", s.name());
            c.put("mode", s.mode());
            c.put("n", s.n());
            c.put("accuracy", s.accuracy());
            c.putArray("accuracy_ci95").add(s.accuracyCi95()[0]).add(s.accuracyCi95()[1]);
            c.put("macro_f1", s.macroF1());
            c.putArray("macro_f1_ci95").add(s.macroF1Ci95()[0]).add(s.macroF1Ci95()[1]);
            c.put("truncated_questions", s.truncatedQuestions());
            s.metrics().forEach((field, v) -> {
                c.put(field + "_mean", v[0]);
                c.putArray(field + "_ci95").add(v[1]).add(v[2]);
            });
            md.append(String.format(
                    Locale.ROOT,
                    "| %s | %s | %d | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %d |%n",
                    s.name(),
                    s.mode(),
                    s.n(),
                    s.accuracy(),
                    s.accuracyCi95()[0],
                    s.accuracyCi95()[1],
                    s.macroF1(),
                    s.macroF1Ci95()[0],
                    s.macroF1Ci95()[1],
                    s.truncatedQuestions()));
        }
        ArrayNode comparisons = root.putArray("comparisons");
        List<String> names = new ArrayList<>(byConfig.keySet());
        if (names.size() > 1) {
            md.append("\n| comparison | n | accuracy difference (95% CI) | McNemar exact p |\n|---|---|---|---|\n");
        }
        for (int i = 1; i < names.size(); i++) {
            Map<String, ObjectNode> first = byPubid(byConfig.get(names.get(0)));
            Map<String, ObjectNode> other = byPubid(byConfig.get(names.get(i)));
            List<String> common = first.keySet().stream()
                    .filter(other::containsKey)
                    .sorted(Comparator.comparing(Evaluation::numeric).thenComparing(x -> x))
                    .toList();
            Comparison k = compare(first, other, names.get(i), names.get(0), bootstrap, seed);
            double[] ci = k.accuracyDifferenceCi95();
            double p = k.mcnemarP();
            double diff = k.accuracyDifference();
            int b = k.mcnemarB();
            int cc = k.mcnemarC();
            ObjectNode cmp = comparisons.addObject();
            cmp.put("baseline", names.get(0));
            cmp.put("config", names.get(i));
            cmp.put("n", common.size());
            cmp.put("accuracy_difference", diff);
            cmp.putArray("accuracy_difference_ci95").add(ci[0]).add(ci[1]);
            cmp.put("mcnemar_b", b);
            cmp.put("mcnemar_c", cc);
            cmp.put("mcnemar_p", p);
            if (first.values().iterator().next().has("answer")) {
                for (String field : metricFields(new ArrayList<>(first.values()))) {
                    double[] d = common.stream()
                            .filter(pid ->
                                    other.get(pid).has(field) && first.get(pid).has(field))
                            .mapToDouble(pid -> other.get(pid).get(field).asDouble()
                                    - first.get(pid).get(field).asDouble())
                            .toArray();
                    double[] dci = meanInterval(d, bootstrap, seed);
                    cmp.put(field + "_difference", Arrays.stream(d).average().orElse(Double.NaN));
                    cmp.putArray(field + "_difference_ci95").add(dci[0]).add(dci[1]);
                }
            }
            md.append(String.format(
                    Locale.ROOT,
                    "| %s vs %s | %d | %+.3f (%+.3f to %+.3f) | %.4f |%n",
                    names.get(i),
                    names.get(0),
                    common.size(),
                    diff,
                    ci[0],
                    ci[1],
                    p));
        }
        root.put("bootstrap_resamples", bootstrap);
        root.put("seed", seed);
        if (summaries.stream().anyMatch(s -> s.mode().equals("generate"))) {
            md.append(
                    constrain.equals("json")
                            ? "\nAnswers constrained to JSON {\"answer\": \"yes\"|\"no\"|\"maybe\", "
                                    + "\"explanation\": string} (--constrain json): the prediction is the answer field, the lexical metrics "
                                    + "score the explanation.\n"
                            : "\nAnswers in free text (--constrain none): AnswerExtractor reads the "
                                    + "prediction; an answer it cannot read is unknown.\n");
        }
        md.append("\nIntervals: percentile bootstrap over questions (")
                .append(bootstrap)
                .append(" resamples, numpy's MT19937 seeded with ")
                .append(seed)
                .append("), questions in PMID order.\n");
        StringBuilder csv = new StringBuilder("config,mode,n,accuracy,accuracy_ci95_low,accuracy_ci95_high,macro_f1,"
                + "macro_f1_ci95_low,macro_f1_ci95_high,truncated_questions\n");
        for (ConfigSummary s : summaries) {
            csv.append(String.format(
                    Locale.ROOT,
                    "%s,%s,%d,%s,%s,%s,%s,%s,%s,%d%n",
                    s.name(),
                    s.mode(),
                    s.n(),
                    s.accuracy(),
                    s.accuracyCi95()[0],
                    s.accuracyCi95()[1],
                    s.macroF1(),
                    s.macroF1Ci95()[0],
                    s.macroF1Ci95()[1],
                    s.truncatedQuestions()));
        }
        md.append("\nCharts: `accuracy.png` (accuracy with its interval per configuration), `confusion.png`.\n");
        writeAtomically(out.resolve(SUMMARY_FILE), root.toPrettyString());
        writeAtomically(out.resolve(REPORT_FILE), md.toString());
        writeAtomically(out.resolve("summary.csv"), csv.toString());
        if (!summaries.isEmpty()) {
            EvaluationCharts.accuracy(summaries, out.resolve("accuracy.png"));
            EvaluationCharts.confusion(confusion, out.resolve("confusion.png"));
            Map<String, double[]> f1 = new LinkedHashMap<>();
            byConfig.forEach((name, rows) -> {
                if (rows.get(0).has("squad_f1")) {
                    f1.put(
                            name,
                            rows.stream()
                                    .mapToDouble(r -> r.get("squad_f1").asDouble())
                                    .toArray());
                }
            });
            if (!f1.isEmpty()) {
                EvaluationCharts.distribution(f1, "token F1 (squad_f1) of each answer", out.resolve("squad_f1.png"));
            }
        }
        return summaries;
    }

    /** The answer constraint {@code run.json} in {@code out} names ({@link AnswerConstraint#NONE} without one). */
    private static AnswerConstraint runConstraint(Path out) {
        Path run = out.resolve(RUN_FILE);
        if (!Files.exists(run)) {
            return AnswerConstraint.NONE;
        }
        try {
            JsonNode constrain = JSON.readTree(run.toFile()).get("constrain");
            return constrain == null ? AnswerConstraint.NONE : AnswerConstraint.parse(constrain.asText());
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalStateException(run + ": cannot read its \"constrain\" (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Percentile bootstrap (2.5th and 97.5th percentiles, numpy's linear interpolation) of accuracy and
     * macro-F1: {@code resamples} times, {@code n} indices drawn as {@code np.random.randint(n)} one by
     * one from {@code NumpyRandom(seed)}.
     */
    static double[][] bootstrap(List<String> truth, List<String> predicted, int resamples, long seed) {
        int n = truth.size();
        if (n == 0 || resamples <= 0) {
            return new double[][] {{Double.NaN, Double.NaN}, {Double.NaN, Double.NaN}};
        }
        NumpyRandom random = new NumpyRandom(seed);
        double[] acc = new double[resamples];
        double[] f1 = new double[resamples];
        List<String> t = new ArrayList<>(n);
        List<String> p = new ArrayList<>(n);
        for (int b = 0; b < resamples; b++) {
            t.clear();
            p.clear();
            for (int i = 0; i < n; i++) {
                int j = random.randint(n);
                t.add(truth.get(j));
                p.add(predicted.get(j));
            }
            Classification c = Classification.evaluate(t, p);
            acc[b] = c.accuracy();
            f1[b] = c.macroF1();
        }
        return new double[][] {
            {Percentile.of(acc, 2.5), Percentile.of(acc, 97.5)}, {Percentile.of(f1, 2.5), Percentile.of(f1, 97.5)}
        };
    }

    /** The numeric per-answer metric fields of generate-mode lines, in first-appearance order. */
    private static List<String> metricFields(List<ObjectNode> lines) {
        LinkedHashSet<String> fields = new LinkedHashSet<>();
        for (ObjectNode line : lines) {
            line.properties().forEach(e -> {
                if (e.getValue().isNumber() && !e.getKey().equals("truncated_contexts")) {
                    fields.add(e.getKey());
                }
            });
        }
        return new ArrayList<>(fields);
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
    }

    /**
     * {@code config} against {@code baseline} from the predictions in the evaluation folder {@code out}
     * (as its report computes them, with the same bootstrap).
     *
     * @throws IllegalArgumentException naming the configuration that is not in the folder
     */
    public static Comparison compare(Path out, String config, String baseline, int bootstrap, long seed) {
        Map<String, List<ObjectNode>> byConfig = new LinkedHashMap<>();
        for (ObjectNode line : predictionLines(AppendLog.open(out.resolve(PREDICTIONS_FILE)))) {
            byConfig.computeIfAbsent(line.get("config").asText(), k -> new ArrayList<>())
                    .add(line);
        }
        for (String name : List.of(config, baseline)) {
            if (!byConfig.containsKey(name)) {
                throw new IllegalArgumentException("no configuration " + name + " in " + out.resolve(PREDICTIONS_FILE)
                        + " (it has " + String.join(", ", byConfig.keySet()) + ")");
            }
        }
        return compare(
                byPubid(byConfig.get(baseline)), byPubid(byConfig.get(config)), config, baseline, bootstrap, seed);
    }

    private static Comparison compare(
            Map<String, ObjectNode> first,
            Map<String, ObjectNode> other,
            String config,
            String baseline,
            int bootstrap,
            long seed) {
        List<String> common = first.keySet().stream()
                .filter(other::containsKey)
                .sorted(Comparator.comparing(Evaluation::numeric).thenComparing(x -> x))
                .toList();
        int b = 0;
        int c = 0;
        double[] diffs = new double[common.size()];
        for (int q = 0; q < common.size(); q++) {
            boolean r1 = correct(first.get(common.get(q)));
            boolean r2 = correct(other.get(common.get(q)));
            b += r1 && !r2 ? 1 : 0;
            c += !r1 && r2 ? 1 : 0;
            diffs[q] = (r2 ? 1 : 0) - (r1 ? 1 : 0);
        }
        return new Comparison(
                config,
                baseline,
                common.size(),
                Arrays.stream(diffs).average().orElse(Double.NaN),
                meanInterval(diffs, bootstrap, seed),
                b,
                c,
                McNemar.exactPValue(b, c));
    }

    private static Map<String, ObjectNode> byPubid(List<ObjectNode> rows) {
        Map<String, ObjectNode> m = new LinkedHashMap<>();
        rows.forEach(r -> m.put(r.get("pubid").asText(), r));
        return m;
    }

    private static boolean correct(ObjectNode row) {
        return row.get("prediction").asText().equals(row.get("label").asText());
    }

    /**
     * Percentile-bootstrap interval of the mean of paired per-question values: the metrics module's
     * bootstrap (numpy's draws, 95%).
     */
    static double[] meanInterval(double[] values, int resamples, long seed) {
        if (values.length == 0 || resamples <= 0) {
            return new double[] {Double.NaN, Double.NaN};
        }
        Bootstrap.Interval i = new Bootstrap(0.95, resamples).resample(values, new NumpyRandom(seed));
        return new double[] {i.low(), i.high()};
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

    private static void checkOrWriteRun(Path file, ObjectNode fingerprint) {
        if (Files.exists(file)) {
            JsonNode old;
            try {
                old = JSON.readTree(file.toFile());
            } catch (IOException e) {
                throw new IllegalStateException(
                        file + " cannot be read (" + e.getMessage() + "); use a new --out folder", e);
            }
            List<String> changed = new ArrayList<>();
            Set<String> keys = new TreeSet<>();
            fingerprint.fieldNames().forEachRemaining(keys::add);
            old.fieldNames().forEachRemaining(keys::add);
            for (String k : keys) {
                if (!Objects.equals(old.get(k), fingerprint.get(k))) {
                    changed.add(k + ": " + old.get(k) + " -> " + fingerprint.get(k));
                }
            }
            if (!changed.isEmpty()) {
                throw new IllegalStateException(
                        file.getParent() + " holds another evaluation (" + String.join("; ", changed)
                                + "); continue it with the same settings or use a new --out folder");
            }
            return;
        }
        writeAtomically(file, fingerprint.toPrettyString());
    }

    /** (config, pubid) of the complete lines ({@link AppendLog} has cut off a half-written last one). */
    private static Set<String> done(AppendLog predictions) {
        Set<String> done = new HashSet<>();
        for (ObjectNode line : predictionLines(predictions)) {
            String k = key(line.get("config").asText(), line.get("pubid").asText());
            if (!done.add(k)) {
                throw new IllegalStateException(predictions.file() + ": " + k + " appears twice");
            }
        }
        return done;
    }

    /** The prediction lines of a log, each checked to be one. */
    private static List<ObjectNode> predictionLines(AppendLog predictions) {
        List<ObjectNode> out = predictions.lines();
        for (int i = 0; i < out.size(); i++) {
            if (!out.get(i).has("config") || !out.get(i).has("pubid")) {
                throw new IllegalStateException(predictions.file() + ": record " + (i + 1) + " is not a prediction");
            }
        }
        return out;
    }

    private static String key(String config, String pubid) {
        return config + "\t" + pubid;
    }

    private static BigInteger numeric(String pmid) {
        return pmid.matches("\\d+") ? new BigInteger(pmid) : BigInteger.valueOf(Long.MAX_VALUE);
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void writeAtomically(Path target, String text) {
        AtomicFiles.write(target, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }

    /** Where a run stands after each question: what a terminal progress bar shows. */
    public record ProgressUpdate(
            int done, int total, double questionsPerSecond, long etaSeconds, double runningAccuracy) {}

    /** Log lines of done/total, questions/s, ETA and running accuracy, at most every 5 seconds. */
    private static final class Progress {
        private final Consumer<ProgressUpdate> listener;
        private final int total;
        private final long started = System.nanoTime();
        private long lastLog;
        private int done;
        private int correct;

        Progress(int total, Consumer<ProgressUpdate> listener) {
            this.total = total;
            this.listener = listener;
        }

        void add(boolean right) {
            done++;
            correct += right ? 1 : 0;
            long now = System.nanoTime();
            if (listener != null) {
                double seconds = (now - started) / 1e9;
                double rate = done / Math.max(seconds, 1e-9);
                listener.accept(new ProgressUpdate(
                        done, total, rate, Math.round((total - done) / rate), (double) correct / done));
            }
            if (done == total || now - lastLog > 5_000_000_000L) {
                lastLog = now;
                double seconds = (now - started) / 1e9;
                double rate = done / Math.max(seconds, 1e-9);
                log.info(
                        "{}/{} questions, {} questions/s, ETA {} s, running accuracy {}",
                        done,
                        total,
                        String.format("%.2f", rate),
                        Math.round((total - done) / rate),
                        String.format("%.3f", (double) correct / done));
            }
        }
    }

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
