package ai.medqa.finetune;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.chat.ChatTemplate;
import ai.medqa.common.Seeds;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraAdapters;
import ai.medqa.lora.LoraConfig;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import ai.medqa.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LoRA fine-tuning of a Mistral model (QLoRA when the base is loaded 4-bit through {@link
 * Builder#baseLinears}): the base stays frozen, only the adapter's A and B matrices are trained.
 *
 * <pre>{@code
 * FineTuneResult r = FineTune.builder()
 *         .model(Path.of("Mistral-7B-v0.1"))
 *         .data(Path.of("ori_pqal.json"))          // PubMedQA; the official test split is held out
 *         .output(Path.of("adapters/pubmedqa"))
 *         .lora(LoraConfig.of(8, 16, 0.05, List.of("q_proj", "v_proj")))
 *         .epochs(1).learningRate(2e-4).batchSize(4).gradientAccumulation(4).maxLength(512)
 *         .build()
 *         .run();
 * }</pre>
 *
 * <p>The output folder receives the adapter in PEFT's format ({@code adapter_config.json},
 * {@code adapter_model.safetensors}; loadable by {@code PeftModel.from_pretrained} and by
 * {@link ai.medqa.lora.LoraAdapter#apply}), {@code best/} (the adapter with the lowest held-out loss),
 * {@code loss.csv}, {@code loss.png} and {@code checkpoint-<step>/} folders from which
 * {@link Builder#resume} continues a killed run to the same adapter bytes.
 *
 * <p>The loss is transformers': cross-entropy of each completion token (and the EOS after it),
 * averaged over all completion tokens of an optimizer step; prompts and padding carry no loss. The
 * optimizer is {@code torch.optim.AdamW}, clipping is {@code clip_grad_norm_}, schedules are
 * transformers' (see {@link Schedule}).
 */
public final class FineTune {
    private static final Logger log = LoggerFactory.getLogger(FineTune.class);

    /** Every setting of a run, validated by {@link Builder#build}. */
    record Settings(
            int epochs,
            long maxSteps,
            double learningRate,
            int batchSize,
            int gradientAccumulation,
            int maxLength,
            Schedule schedule,
            long warmupSteps,
            double warmupRatio,
            double weightDecay,
            double beta1,
            double beta2,
            double eps,
            double maxGradNorm,
            long seed,
            LoraConfig lora,
            String adapterName,
            int evalEvery,
            double evalFraction,
            int earlyStopPatience,
            double earlyStopMinDelta,
            int saveEvery,
            int keepCheckpoints,
            boolean resume,
            int logEvery,
            boolean gradientCheckpointing,
            Method method,
            double beta,
            double desirableWeight,
            double undesirableWeight,
            Path initAdapter) {}

    /**
     * What the run optimizes: {@link #SFT}, next-token cross-entropy on prompt/completion examples (the
     * default), or {@link #DPO}, TRL's DPO loss on preference pairs ({@code prompt}, {@code chosen},
     * {@code rejected}, as {@code medqa feedback export --format dpo} writes them) against the base
     * model with the adapter disabled, or {@link #KTO}, TRL's KTO loss on liked and disliked answers
     * ({@code prompt}, {@code completion}, {@code label}; {@code --format kto}) likewise.
     */
    public enum Method {
        SFT,
        DPO,
        KTO;

        /** {@code sft} or {@code dpo}. */
        public static Method parse(String name) {
            try {
                return valueOf(name.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown method \"" + name + "\"; expected sft, dpo or kto");
            }
        }
    }

    /** Where a run's model, data and output come from, and whom it tells of each step: build()'s snapshot. */
    record Inputs(
            Path modelDir,
            MistralModel model,
            Tokenizer tokenizer,
            Device device,
            DataType computeType,
            LinearFactory baseLinears,
            Path dataFile,
            List<Example> examples,
            List<Example> evalExamples,
            boolean includeOfficialTest,
            PromptTemplate template,
            Path output,
            Consumer<StepStats> listener) {}

    /** The examples a run trains and evaluates on, and the template that renders them. */
    private record Data(List<Example> train, List<Example> eval, PromptTemplate template, int heldOutTest) {}

    private final Inputs in;
    private final Settings settings;

    private FineTune(Inputs in, Settings settings) {
        this.in = in;
        this.settings = settings;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Trains, writes the adapter, curve and checkpoints to the output folder, and returns what
     * happened. With a model passed to {@link Builder#model(MistralModel)} the trained adapter stays
     * attached and active on it (in inference mode) under {@link Builder#adapterName}.
     */
    public FineTuneResult run() {
        long started = System.nanoTime();
        if (settings.method() != Method.SFT) {
            return runPreference(started);
        }
        Data data = data(); // a bad data file is reported before minutes of model loading
        boolean ownModel = in.model() == null;
        MistralModel model = ownModel
                ? MistralModel.load(in.modelDir(), in.device(), in.computeType(), in.baseLinears())
                : in.model();
        try {
            Tokenizer tokenizer = in.tokenizer() != null ? in.tokenizer() : Tokenizer.load(in.modelDir());
            try {
                return train(model, tokenizer, data, started);
            } finally {
                if (in.tokenizer() == null) {
                    tokenizer.close();
                }
            }
        } finally {
            if (ownModel) {
                model.close();
            }
        }
    }

    private FineTuneResult train(MistralModel model, Tokenizer tokenizer, Data data, long started) {
        Tokenization.Result train =
                Tokenization.tokenize(tokenizer, data.template(), data.train(), settings.maxLength());
        Tokenization.Result eval = data.eval().isEmpty()
                ? null
                : Tokenization.tokenize(tokenizer, data.template(), data.eval(), settings.maxLength());
        logData(data.template(), train, eval);
        int vocab = model.config().vocabSize();
        if (tokenizer.vocabSize() > vocab) {
            throw new IllegalArgumentException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model's"
                    + " vocab_size is " + vocab);
        }
        try {
            Files.createDirectories(in.output());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + in.output() + ": " + e.getMessage(), e);
        }
        LoraAdapters lora = LoraAdapters.of(model);
        Trainer trainer = new Trainer(
                settings,
                model,
                train.examples(),
                eval == null ? List.of() : eval.examples(),
                tokenizer.eosId(),
                in.listener());
        Trainer.Outcome outcome;
        try {
            outcome = trainer.run(lora, in.output());
        } catch (RuntimeException e) {
            detach(lora);
            throw e;
        }
        saveOutputs(lora, outcome.state());
        if (in.model() == null) {
            detach(lora);
        }
        return result(outcome, train, eval, data.heldOutTest(), started);
    }

    /**
     * DPO and KTO: the data file's pairs or labeled answers (read and checked before the model loads),
     * tokenized with the model's chat template, a held-out fold, reference log-probabilities computed
     * once with the base model (no adapter attached yet), then the trainer's loop, checkpoints and
     * resume as for SFT. KTO keeps file order (its KL estimate pairs neighbours within a micro-batch).
     */
    private FineTuneResult runPreference(long started) {
        if (in.dataFile() == null) {
            throw new IllegalArgumentException(settings.method() + " reads its data from a file: data(file)");
        }
        boolean dpo = settings.method() == Method.DPO;
        List<PreferenceData.Text> pairTexts = dpo ? PreferenceData.load(in.dataFile()) : null;
        List<PreferenceData.LabeledText> labeledTexts = dpo ? null : PreferenceData.loadLabeled(in.dataFile());
        boolean ownModel = in.model() == null;
        MistralModel model = ownModel
                ? MistralModel.load(in.modelDir(), in.device(), in.computeType(), in.baseLinears())
                : in.model();
        try {
            Tokenizer tokenizer = in.tokenizer() != null ? in.tokenizer() : Tokenizer.load(in.modelDir());
            try {
                ChatTemplate template = ChatTemplate.of(tokenizer);
                List<String> dropped = new ArrayList<>();
                int padId = tokenizer.eosId();
                LoraAdapters lora = LoraAdapters.of(model);
                if (settings.initAdapter() != null) {
                    // The reference: the starting adapter, frozen (attached only while the reference is computed).
                    lora.attach(Adapters.read(model, settings.initAdapter(), REFERENCE, 0.0));
                }
                boolean referenceAttached = settings.initAdapter() != null;
                Objective trainObjective;
                Objective evalObjective;
                int trainUnits;
                int evalUnits;
                long tokens;
                long targets;
                try {
                    if (dpo) {
                        List<PreferenceLoss.Pair> all =
                                PreferenceData.tokenize(pairTexts, template, settings.maxLength(), dropped);
                        List<List<PreferenceLoss.Pair>> split = split(all, true);
                        List<PreferenceLoss.Pair> train = split.get(0);
                        List<PreferenceLoss.Pair> eval = split.get(1);
                        trainObjective =
                                Objective.dpo(train, reference(model, lora, train, padId), settings.beta(), padId);
                        evalObjective =
                                Objective.dpo(eval, reference(model, lora, eval, padId), settings.beta(), padId);
                        trainUnits = train.size();
                        evalUnits = eval.size();
                        tokens = train.stream()
                                .mapToLong(p -> 2L * p.prompt().length + p.chosen().length + p.rejected().length)
                                .sum();
                        targets = train.stream()
                                .mapToLong(p -> (long) p.chosen().length + p.rejected().length)
                                .sum();
                    } else {
                        List<PreferenceLoss.Labeled> all =
                                PreferenceData.tokenizeLabeled(labeledTexts, template, settings.maxLength(), dropped);
                        // Shuffled once with the run's seed, then kept in that order: the KL estimate pairs neighbours,
                        // and the export keeps answers to one conversation together (not a mismatch).
                        List<List<PreferenceLoss.Labeled>> split = split(all, true);
                        List<PreferenceLoss.Labeled> train = split.get(0);
                        List<PreferenceLoss.Labeled> eval = split.get(1);
                        trainObjective = Objective.kto(
                                model,
                                train,
                                klReference(model, lora, train, padId),
                                settings.beta(),
                                settings.desirableWeight(),
                                settings.undesirableWeight(),
                                padId,
                                settings.maxLength());
                        evalObjective = Objective.kto(
                                model,
                                eval,
                                klReference(model, lora, eval, padId),
                                settings.beta(),
                                settings.desirableWeight(),
                                settings.undesirableWeight(),
                                padId,
                                settings.maxLength());
                        trainUnits = train.size();
                        evalUnits = eval.size();
                        tokens = train.stream()
                                .mapToLong(e -> 2L * (e.prompt().length + e.completion().length))
                                .sum();
                        targets = train.stream()
                                .mapToLong(e -> e.completion().length)
                                .sum();
                        long liked = train.stream()
                                .filter(PreferenceLoss.Labeled::desirable)
                                .count();
                        if (liked == 0 || liked == train.size()) {
                            log.warn(
                                    "KTO on {} examples of one label only ({} liked): its KL term has nothing to contrast",
                                    train.size(),
                                    liked);
                        }
                    }
                } finally {
                    if (referenceAttached) {
                        lora.remove(REFERENCE);
                    }
                }
                if (!dropped.isEmpty()) {
                    log.warn(
                            "{} left out: their prompt alone fills max length {} ({})",
                            dropped.size(),
                            settings.maxLength(),
                            dropped.get(0));
                }
                Files.createDirectories(in.output());
                log.info(
                        "{} on {} {} ({} held out), beta {}",
                        settings.method(),
                        trainUnits,
                        trainObjective.unit(),
                        evalUnits,
                        settings.beta());
                Trainer trainer = new Trainer(settings, model, trainObjective, evalObjective, in.listener());
                Trainer.Outcome outcome;
                try {
                    outcome = trainer.run(lora, in.output());
                } catch (RuntimeException e) {
                    detach(lora);
                    throw e;
                }
                saveOutputs(lora, outcome.state());
                if (in.model() == null) {
                    detach(lora);
                }
                TrainerState st = outcome.state();
                double last = st.history().isEmpty()
                        ? Double.NaN
                        : st.history().get(st.history().size() - 1).loss();
                return new FineTuneResult(
                        st.step(),
                        last,
                        st.initialEvalLoss(),
                        outcome.lastEval(),
                        st.bestEvalLoss(),
                        st.stoppedEarly(),
                        in.output(),
                        new DataStats(trainUnits, 0, 0, tokens, targets, 0),
                        evalUnits == 0 ? null : new DataStats(evalUnits, 0, 0, 0, 0, 0),
                        0,
                        (System.nanoTime() - started) / 1e9,
                        st.history());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create " + in.output() + ": " + e.getMessage(), e);
            } finally {
                if (in.tokenizer() == null) {
                    tokenizer.close();
                }
            }
        } finally {
            if (ownModel) {
                model.close();
            }
        }
    }

    /**
     * Training and held-out parts: a held-out fold drawn with the run's seed; the training part
     * shuffled ({@code shuffle}) or in file order (KTO).
     */
    private <T> List<List<T>> split(List<T> all, boolean shuffle) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            order.add(i);
        }
        SplittableRandom r = new SplittableRandom(Seeds.mix(settings.seed(), 0xE7A1L));
        for (int i = order.size() - 1; i > 0; i--) {
            Collections.swap(order, i, r.nextInt(i + 1));
        }
        int n = settings.evalFraction() > 0 ? (int) Math.ceil(settings.evalFraction() * all.size()) : 0;
        Set<Integer> held = new TreeSet<>(order.subList(0, n));
        List<T> train = new ArrayList<>();
        List<T> eval = new ArrayList<>();
        if (shuffle) {
            for (int i : order.subList(n, order.size())) {
                train.add(all.get(i));
            }
        } else {
            for (int i = 0; i < all.size(); i++) {
                if (!held.contains(i)) {
                    train.add(all.get(i));
                }
            }
        }
        for (int i : held) {
            eval.add(all.get(i));
        }
        if (train.isEmpty()) {
            throw new IllegalArgumentException(
                    in.dataFile() + ": nothing left to train on (" + all.size() + " usable, " + n + " held out)");
        }
        return List.of(train, eval);
    }

    /**
     * Each KTO example's reference log-probabilities {its completion, the mismatched one its micro-batch
     * pairs it with}: the model with no adapter active, in the micro-batches the trainer will form.
     */
    private float[][] klReference(
            MistralModel model, LoraAdapters lora, List<PreferenceLoss.Labeled> examples, int padId) {
        float[][] out = new float[examples.size()][];
        String active = lora.active().orElse(null);
        for (int from = 0; from < examples.size(); from += settings.batchSize()) {
            List<PreferenceLoss.Labeled> chunk =
                    examples.subList(from, Math.min(examples.size(), from + settings.batchSize()));
            float[] matched = PreferenceLoss.referenceLogps(
                    model,
                    PreferenceLoss.labeledBatch(chunk, padId),
                    () -> lora.activate(referenceAdapter()),
                    () -> lora.activate(active));
            float[] mismatched = PreferenceLoss.referenceLogps(
                    model,
                    PreferenceLoss.klBatch(chunk, padId, settings.maxLength()),
                    () -> lora.activate(referenceAdapter()),
                    () -> lora.activate(active));
            for (int k = 0; k < chunk.size(); k++) {
                out[from + k] = new float[] {matched[k], mismatched[k]};
            }
        }
        return out;
    }

    /** The name the frozen starting adapter has while the reference is computed. */
    private static final String REFERENCE = "reference";

    /** The adapter the reference runs with: the frozen starting adapter, or none (the base model). */
    private String referenceAdapter() {
        return settings.initAdapter() != null ? REFERENCE : null;
    }

    /** Each pair's reference log-probabilities {chosen, rejected}: the model with no adapter active, no gradients. */
    private float[][] reference(MistralModel model, LoraAdapters lora, List<PreferenceLoss.Pair> pairs, int padId) {
        float[][] out = new float[pairs.size()][];
        String active = lora.active().orElse(null);
        for (int from = 0; from < pairs.size(); from += settings.batchSize()) {
            List<PreferenceLoss.Pair> chunk = pairs.subList(from, Math.min(pairs.size(), from + settings.batchSize()));
            float[] logps = PreferenceLoss.referenceLogps(
                    model,
                    PreferenceLoss.batch(chunk, padId),
                    () -> lora.activate(referenceAdapter()),
                    () -> lora.activate(active));
            for (int k = 0; k < chunk.size(); k++) {
                out[from + k] = new float[] {logps[k], logps[chunk.size() + k]};
            }
        }
        return out;
    }

    /** Explicit examples, or a file with PubMedQA's official test split held out unless asked; then the held-out fold. */
    private Data data() {
        List<Example> examples;
        int heldOutTest = 0;
        PromptTemplate template = in.template();
        if (in.examples() != null) {
            examples = in.examples();
            template = template != null ? template : PromptTemplate.raw();
        } else {
            TrainingData.Loaded loaded = TrainingData.load(in.dataFile(), in.includeOfficialTest());
            examples = loaded.examples();
            heldOutTest = loaded.heldOutTest();
            template = template != null
                    ? template
                    : loaded.pubMedQa() ? PromptTemplate.instruction() : PromptTemplate.raw();
        }
        List<Example> trainExamples = examples;
        List<Example> evalExamples = in.evalExamples() != null ? in.evalExamples() : List.of();
        if (in.evalExamples() == null && settings.evalFraction() > 0) {
            List<Example> shuffled = shuffled(examples);
            int n = (int) Math.ceil(settings.evalFraction() * shuffled.size());
            evalExamples = shuffled.subList(0, n);
            trainExamples = shuffled.subList(n, shuffled.size());
        }
        if (trainExamples.isEmpty()) {
            throw new IllegalArgumentException("no training examples left (" + examples.size() + " loaded, "
                    + evalExamples.size() + " held out for evaluation)");
        }
        return new Data(trainExamples, evalExamples, template, heldOutTest);
    }

    /**
     * Why {@code output} cannot take a run's files, or null: it is the model's folder, a model folder
     * ({@code config.json}), or (unless resuming) a folder that already holds files.
     */
    public static String outputProblem(Path output, Path modelDir, boolean resume) {
        Path out = output.toAbsolutePath().normalize();
        if (modelDir != null && out.equals(modelDir.toAbsolutePath().normalize())) {
            return out
                    + " is the model's folder: the adapter's files would mix with the model's; choose another folder";
        }
        if (Files.isRegularFile(out.resolve("config.json"))) {
            return out + " holds a model (config.json); choose another folder for the adapter";
        }
        if (Files.exists(out) && !Files.isDirectory(out)) {
            return out + " is a file, not a folder";
        }
        if (!resume && Files.isDirectory(out)) {
            try (Stream<Path> files = Files.list(out)) {
                List<String> names = files.map(p -> p.getFileName().toString())
                        .sorted()
                        .limit(4)
                        .toList();
                if (!names.isEmpty()) {
                    return out + " already holds files (" + String.join(", ", names)
                            + (names.size() == 4 ? ", ..." : "")
                            + "); nothing is overwritten: choose a new folder, or resume it";
                }
            } catch (IOException e) {
                return out + " cannot be read: " + e.getMessage();
            }
        }
        return null;
    }

    /** The examples in an order drawn with the run's seed, so the held-out fold is the same on resume. */
    private List<Example> shuffled(List<Example> examples) {
        List<Example> shuffled = new ArrayList<>(examples);
        SplittableRandom r = new SplittableRandom(Seeds.mix(settings.seed(), 0xE7A1L));
        for (int i = shuffled.size() - 1; i > 0; i--) {
            Collections.swap(shuffled, i, r.nextInt(i + 1));
        }
        return shuffled;
    }

    private void logData(PromptTemplate template, Tokenization.Result train, Tokenization.Result eval) {
        log.info("template {}; training data: {}", template, train.stats());
        if (eval != null) {
            log.info("held-out data: {}", eval.stats());
        }
        if (train.stats().truncated() > 0) {
            log.warn(
                    "{} of {} training examples were longer than max length {} and were truncated ({} with the answer"
                            + " cut)",
                    train.stats().truncated(),
                    train.stats().examples(),
                    settings.maxLength(),
                    train.stats().answerTruncated());
        }
    }

    /** The final adapter in the output folder itself (PEFT's layout), with the loss curve as CSV and PNG. */
    private void saveOutputs(LoraAdapters lora, TrainerState st) {
        lora.adapters().get(settings.adapterName()).save(in.output());
        if (!st.history().isEmpty()) {
            LossCurve.writeCsv(st.history(), in.output().resolve("loss.csv"));
            LossCurve.writePng(
                    st.history(),
                    "LoRA fine-tuning: " + in.output().getFileName(),
                    in.output().resolve("loss.png"));
        }
    }

    private FineTuneResult result(
            Trainer.Outcome outcome,
            Tokenization.Result train,
            Tokenization.Result eval,
            int heldOutTest,
            long started) {
        TrainerState st = outcome.state();
        double last = st.history().isEmpty()
                ? Double.NaN
                : st.history().get(st.history().size() - 1).loss();
        FineTuneResult result = new FineTuneResult(
                st.step(),
                last,
                st.initialEvalLoss(),
                outcome.lastEval(),
                st.bestEvalLoss(),
                st.stoppedEarly(),
                in.output(),
                train.stats(),
                eval == null ? null : eval.stats(),
                heldOutTest,
                (System.nanoTime() - started) / 1e9,
                st.history());
        log.info(
                "done: {} steps, train loss {}, held-out loss {} (before training {}); adapter in {}",
                result.steps(),
                Trainer.fmt(result.trainLoss()),
                Trainer.fmt(result.evalLoss()),
                Trainer.fmt(result.initialEvalLoss()),
                in.output());
        return result;
    }

    private void detach(LoraAdapters lora) {
        if (lora.adapters().containsKey(settings.adapterName())) {
            lora.remove(settings.adapterName());
        }
    }

    /** Fluent settings; defaults are the seed's QLoRA run (r 8, alpha 16, dropout 0.05, q_proj and v_proj). */
    public static final class Builder {
        private Path modelDir;
        private MistralModel model;
        private Tokenizer tokenizer;
        private Device device = Device.cpu();
        private DataType computeType = DataType.FLOAT32;
        private LinearFactory baseLinears = LinearFactory.DENSE;
        private Path dataFile;
        private List<Example> examples;
        private List<Example> evalExamples;
        private boolean includeOfficialTest;
        private PromptTemplate template;
        private Path output;
        private Consumer<StepStats> listener;

        private int epochs = 1;
        private long maxSteps = -1;
        private double learningRate = 2e-4;
        private int batchSize = 4;
        private int gradientAccumulation = 4;
        private int maxLength = 512;
        private boolean gradientCheckpointing;
        private Schedule schedule = Schedule.LINEAR;
        private long warmupSteps = -1;
        private double warmupRatio = 0.03;
        private double weightDecay = 0.0;
        private double beta1 = 0.9;
        private double beta2 = 0.999;
        private double eps = 1e-8;
        private double maxGradNorm = 1.0;
        private long seed = 42;
        private LoraConfig lora = LoraConfig.of(8, 16, 0.05, List.of("q_proj", "v_proj"));
        private String adapterName = "finetune";
        private int evalEvery = 50;
        private double evalFraction = 0.1;
        private int earlyStopPatience = 0;
        private double earlyStopMinDelta = 0.0;
        private int saveEvery = 50;
        private int keepCheckpoints = 2;
        private boolean resume;
        private Method method = Method.SFT;
        private double beta = 0.1;
        private double desirableWeight = 1.0;
        private double undesirableWeight = 1.0;
        private Path initAdapter;
        private int logEvery = 1;

        private Builder() {}

        /** A Hugging Face model folder (config.json, safetensors, tokenizer.json), loaded by {@link #run}. */
        public Builder model(Path dir) {
            this.modelDir = Objects.requireNonNull(dir, "dir");
            return this;
        }

        /** A model already loaded (the caller closes it); needs {@link #tokenizer} unless {@link #model(Path)} is set too. */
        public Builder model(MistralModel loaded) {
            this.model = Objects.requireNonNull(loaded, "model");
            return this;
        }

        public Builder tokenizer(Tokenizer t) {
            this.tokenizer = Objects.requireNonNull(t, "tokenizer");
            return this;
        }

        /** Where the base is loaded from a folder: the device ({@code Device.cpu()}, {@code Device.gpu()}). */
        public Builder device(Device d) {
            this.device = Objects.requireNonNull(d, "device");
            return this;
        }

        /** Compute dtype of a dense base: FLOAT32 or FLOAT16 (LoRA weights are float32 regardless). */
        public Builder computeType(DataType t) {
            if (t != DataType.FLOAT32 && t != DataType.FLOAT16) {
                throw new IllegalArgumentException("compute type " + t + ": expected FLOAT32 or FLOAT16");
            }
            this.computeType = t;
            return this;
        }

        /**
         * How base projections are built when the model is loaded from a folder: {@link
         * LinearFactory#DENSE}, or a 4-bit NF4 factory for QLoRA. Any {@link ai.medqa.model.Linear}
         * works: the LoRA branch only needs its forward to accept a float input.
         */
        public Builder baseLinears(LinearFactory f) {
            this.baseLinears = Objects.requireNonNull(f, "baseLinears");
            return this;
        }

        /**
         * Training data: PubMedQA ({@code ori_pqal.json}, or {@code .jsonl} with Hugging Face's
         * fields), or {@code .jsonl} lines of {@code {"prompt": ..., "completion": ...}}.
         */
        public Builder data(Path file) {
            this.dataFile = Objects.requireNonNull(file, "file");
            return this;
        }

        public Builder examples(List<Example> list) {
            this.examples = List.copyOf(list);
            return this;
        }

        /** An explicit held-out set (otherwise {@link #evalFraction} of the data is held out). */
        public Builder evalExamples(List<Example> list) {
            this.evalExamples = List.copyOf(list);
            return this;
        }

        /** Train on PubMedQA's official test questions too. Off by default: it would spoil every later score. */
        public Builder includeOfficialTestSplit(boolean on) {
            this.includeOfficialTest = on;
            return this;
        }

        /** Default: {@link PromptTemplate#instruction()} for PubMedQA, {@link PromptTemplate#raw()} for pairs. */
        public Builder template(PromptTemplate t) {
            this.template = Objects.requireNonNull(t, "template");
            return this;
        }

        /**
         * Where the adapter, curves and checkpoints go: a new or empty folder, or, with
         * {@link #resume}, the folder of the run to continue. A folder holding other files (an
         * earlier adapter, a model) is refused at {@link #build()}: nothing is overwritten.
         */
        public Builder output(Path dir) {
            this.output = Objects.requireNonNull(dir, "dir");
            return this;
        }

        public Builder lora(LoraConfig c) {
            this.lora = Objects.requireNonNull(c, "lora");
            return this;
        }

        public Builder adapterName(String name) {
            this.adapterName = Objects.requireNonNull(name, "name");
            return this;
        }

        public Builder epochs(int n) {
            this.epochs = n;
            return this;
        }

        /** Stop after this many optimizer steps (and size the schedule for them); -1 for {@link #epochs}. */
        public Builder maxSteps(long n) {
            this.maxSteps = n;
            return this;
        }

        public Builder learningRate(double lr) {
            this.learningRate = lr;
            return this;
        }

        /** Examples per micro-batch (one forward/backward). */
        public Builder batchSize(int n) {
            this.batchSize = n;
            return this;
        }

        /** Micro-batches per optimizer step. */
        public Builder gradientAccumulation(int n) {
            this.gradientAccumulation = n;
            return this;
        }

        /** Tokens per example, BOS and EOS included; longer examples are truncated (see {@link DataStats}). */
        public Builder maxLength(int n) {
            this.maxLength = n;
            return this;
        }

        public Builder schedule(Schedule sch) {
            this.schedule = Objects.requireNonNull(sch, "schedule");
            return this;
        }

        /** Warm-up in optimizer steps; overrides {@link #warmupRatio}. */
        public Builder warmupSteps(long n) {
            this.warmupSteps = n;
            return this;
        }

        /** Warm-up as a fraction of all steps (default 0.03). */
        public Builder warmupRatio(double r) {
            this.warmupRatio = r;
            this.warmupSteps = -1;
            return this;
        }

        /** Decoupled weight decay (AdamW's); default 0 as in transformers. */
        public Builder weightDecay(double wd) {
            this.weightDecay = wd;
            return this;
        }

        public Builder betas(double b1, double b2) {
            this.beta1 = b1;
            this.beta2 = b2;
            return this;
        }

        public Builder eps(double e) {
            this.eps = e;
            return this;
        }

        /**
         * Backpropagate layer by layer, recomputing each layer's forward pass (transformers'
         * {@code gradient_checkpointing}): peak memory holds one layer's activations — and, over an
         * NF4 base, one layer's dequantized weights — instead of the whole model's, for about one
         * more forward pass of compute. Dropout masks are drawn per layer, so a run with it differs
         * from one without (each is repeatable). Off by default.
         */
        public Builder gradientCheckpointing(boolean on) {
            this.gradientCheckpointing = on;
            return this;
        }

        /** Clip the gradients' global 2-norm to this; 0 turns clipping off. Default 1.0 as in transformers. */
        public Builder maxGradNorm(double n) {
            this.maxGradNorm = n;
            return this;
        }

        /** Seeds the adapter's initialisation, the data order, the held-out split and LoRA dropout. */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /** Evaluate the held-out loss every this many steps (and after the last); 0: only after the last. */
        public Builder evalEvery(int steps) {
            this.evalEvery = steps;
            return this;
        }

        /** Fraction of the data held out for evaluation when no {@link #evalExamples} are given; 0 for none. */
        public Builder evalFraction(double f) {
            this.evalFraction = f;
            return this;
        }

        /** Stop when the held-out loss has not improved by more than {@code minDelta} for {@code patience} evaluations. */
        public Builder earlyStop(int patience, double minDelta) {
            this.earlyStopPatience = patience;
            this.earlyStopMinDelta = minDelta;
            return this;
        }

        /** Write a checkpoint every this many steps (and after the last); 0: only after the last. */
        public Builder saveEvery(int steps) {
            this.saveEvery = steps;
            return this;
        }

        public Builder keepCheckpoints(int n) {
            this.keepCheckpoints = n;
            return this;
        }

        /** {@link Method#SFT} (default) or {@link Method#DPO}. */
        public Builder method(Method method) {
            this.method = Objects.requireNonNull(method, "method");
            return this;
        }

        /** DPO's beta: how far the policy may move from the reference (TRL's default 0.1). */
        public Builder beta(double beta) {
            this.beta = beta;
            return this;
        }

        /**
         * Start from the PEFT adapter in {@code dir} instead of a new one (its {@code adapter_config.json}
         * replaces {@link #lora}'s rank, alpha and targets; the dropout stays this run's). For DPO and
         * KTO the reference is then that adapter as it is now, frozen, as TRL does when given a model
         * with an adapter; a new adapter's reference is the base model.
         */
        public Builder initAdapter(Path dir) {
            this.initAdapter = Objects.requireNonNull(dir, "dir");
            return this;
        }

        /** KTO's weights of liked and disliked examples (TRL's desirable_weight, undesirable_weight; 1 and 1). */
        public Builder ktoWeights(double desirable, double undesirable) {
            this.desirableWeight = desirable;
            this.undesirableWeight = undesirable;
            return this;
        }

        /** Continue from the output folder's latest checkpoint (a fresh start if it has none). */
        public Builder resume(boolean on) {
            this.resume = on;
            return this;
        }

        /** Log a progress line every this many steps; 0 for none. */
        public Builder logEvery(int steps) {
            this.logEvery = steps;
            return this;
        }

        /** Called after every optimizer step (throwing from it aborts the run, as a crash would). */
        public Builder onStep(Consumer<StepStats> l) {
            this.listener = l;
            return this;
        }

        public FineTune build() {
            if (modelDir == null && model == null) {
                throw new IllegalStateException("no model: call model(dir) or model(loadedModel)");
            }
            if (model != null && tokenizer == null && modelDir == null) {
                throw new IllegalStateException("a loaded model needs tokenizer(...) (or model(dir) to load it from)");
            }
            if ((dataFile == null) == (examples == null)) {
                throw new IllegalStateException("give the training data once: data(file) or examples(list)");
            }
            if (output == null) {
                throw new IllegalStateException("no output folder: call output(dir)");
            }
            String refused = outputProblem(output, modelDir, resume);
            if (refused != null) {
                throw new IllegalArgumentException("output folder " + refused);
            }
            positive("epochs", epochs);
            positive("batch size", batchSize);
            positive("gradient accumulation", gradientAccumulation);
            positive("max length", maxLength);
            if (!(learningRate > 0)) {
                throw new IllegalArgumentException("learning rate " + learningRate + ": expected > 0");
            }
            if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("betas (" + beta1 + ", " + beta2 + "): expected in [0, 1)");
            }
            if (!(eps > 0) || weightDecay < 0 || maxGradNorm < 0) {
                throw new IllegalArgumentException("eps must be > 0, weight decay and max grad norm >= 0");
            }
            if (method != Method.SFT && !(beta > 0 && Double.isFinite(beta))) {
                throw new IllegalArgumentException(method + " beta " + beta + ": expected > 0");
            }
            if (method != Method.SFT && dataFile == null) {
                throw new IllegalStateException(method + " reads its data from a file: data(file)");
            }
            if (method == Method.KTO && batchSize < 2) {
                throw new IllegalArgumentException("KTO needs a batch size of at least 2: its KL estimate pairs each "
                        + "example with another of its micro-batch (TRL refuses 1 too)");
            }
            if (!(desirableWeight > 0) || !(undesirableWeight > 0)) {
                throw new IllegalArgumentException(
                        "KTO weights must be > 0, got " + desirableWeight + " and " + undesirableWeight);
            }
            if (!(evalFraction >= 0 && evalFraction < 1) || !(warmupRatio >= 0 && warmupRatio <= 1)) {
                throw new IllegalArgumentException("eval fraction must be in [0, 1), warm-up ratio in [0, 1]");
            }
            LoraConfig start = lora;
            if (initAdapter != null) {
                if (!Files.isRegularFile(initAdapter.resolve(LoraAdapter.WEIGHTS_FILE))) {
                    throw new IllegalArgumentException("init adapter " + initAdapter + ": no "
                            + LoraAdapter.WEIGHTS_FILE + " (a PEFT adapter folder is expected)");
                }
                start = Adapters.withDropout(LoraConfig.load(initAdapter), lora.loraDropout());
            }
            // PEFT records the base a model was loaded from, so AutoPeftModelForCausalLM finds it.
            LoraConfig config = modelDir != null
                    ? start.withBaseModel(modelDir.toAbsolutePath().normalize().toString())
                    : start;
            Settings s = new Settings(
                    epochs,
                    maxSteps,
                    learningRate,
                    batchSize,
                    gradientAccumulation,
                    maxLength,
                    schedule,
                    warmupSteps,
                    warmupRatio,
                    weightDecay,
                    beta1,
                    beta2,
                    eps,
                    maxGradNorm,
                    seed,
                    config,
                    adapterName,
                    evalEvery,
                    evalFraction,
                    earlyStopPatience,
                    earlyStopMinDelta,
                    saveEvery,
                    keepCheckpoints,
                    resume,
                    logEvery,
                    gradientCheckpointing,
                    method,
                    beta,
                    desirableWeight,
                    undesirableWeight,
                    initAdapter);
            Inputs inputs = new Inputs(
                    modelDir,
                    model,
                    tokenizer,
                    device,
                    computeType,
                    baseLinears,
                    dataFile,
                    examples,
                    evalExamples,
                    includeOfficialTest,
                    template,
                    output,
                    listener);
            return new FineTune(inputs, s);
        }

        private static void positive(String what, long v) {
            if (v <= 0) {
                throw new IllegalArgumentException(what + " is " + v + "; expected > 0");
            }
        }
    }
}
