package ai.medqa.finetune;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.medqa.common.Seeds;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraAdapters;
import ai.medqa.lora.LoraConfig;
import ai.medqa.model.MistralModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.zip.CRC32;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training loop: frozen base, LoRA A/B trained with AdamW, gradient accumulation, clipping,
 * schedule, held-out evaluation, early stopping, checkpoints and resume.
 *
 * <p>Repeatability: the data order of epoch e is a permutation drawn from (seed, e), and PyTorch's
 * generator (LoRA dropout) is re-seeded from (seed, step, micro-batch) before every micro-batch. A
 * resumed run therefore sees the same batches and the same dropout masks as an uninterrupted one, and
 * with the parameters and AdamW moments restored bit for bit it computes the same adapter.
 */
final class Trainer {
    private static final Logger log = LoggerFactory.getLogger(Trainer.class);

    private final FineTune.Settings s;
    private final MistralModel model;
    private final Objective train;
    private final Objective eval;
    private final Consumer<StepStats> listener;

    Trainer(
            FineTune.Settings settings,
            MistralModel model,
            List<TokenizedExample> train,
            List<TokenizedExample> eval,
            int padId,
            Consumer<StepStats> listener) {
        this(settings, model, Objective.sft(train, padId), Objective.sft(eval, padId), listener);
    }

    /** A run minimizing {@code train}, evaluated on {@code eval} (of the same kind; may be empty). */
    Trainer(
            FineTune.Settings settings,
            MistralModel model,
            Objective train,
            Objective eval,
            Consumer<StepStats> listener) {
        this.s = settings;
        this.model = model;
        this.train = train;
        this.eval = eval;
        this.listener = listener;
    }

    record Outcome(TrainerState state, double lastEval) {}

    /** What one run trains and where it writes, fixed for the whole loop. */
    private record Run(
            LoraAdapters lora,
            LoraAdapter adapter,
            LoraParameters params,
            AdamW adamw,
            long total,
            long warmup,
            Path out) {}

    /** One optimizer step's micro-batches, with the examples, tokens and loss targets they hold. */
    private record StepData(List<Objective.Micro> micro, int examples, int tokens, int targets) {}

    /** Where the run stands between steps: starts as a fresh or resumed state, saved as one. */
    private static final class Progress {
        long step;
        int epoch;
        int position;
        int[] order;
        long tokensSeen;
        double initialEval;
        double best;
        int sinceBest;
        boolean stopped;
        double lastEval = Double.NaN;
        final double elapsedBefore;
        final String fingerprint;
        final List<StepStats> history;

        Progress(TrainerState s) {
            step = s.step();
            epoch = s.epoch();
            position = s.position();
            tokensSeen = s.tokensSeen();
            initialEval = s.initialEvalLoss();
            best = s.bestEvalLoss();
            sinceBest = s.evalsWithoutImprovement();
            stopped = s.stoppedEarly();
            elapsedBefore = s.elapsedSeconds();
            fingerprint = s.fingerprint();
            history = new ArrayList<>(s.history());
            for (StepStats h : history) {
                lastEval = Double.isNaN(h.evalLoss()) ? lastEval : h.evalLoss();
            }
        }

        TrainerState state(double runSeconds) {
            return new TrainerState(
                    step,
                    epoch,
                    position,
                    elapsedBefore + runSeconds,
                    tokensSeen,
                    initialEval,
                    best,
                    sinceBest,
                    stopped,
                    fingerprint,
                    history);
        }
    }

    Outcome run(LoraAdapters lora, Path out) {
        long total = s.maxSteps() > 0 ? s.maxSteps() : stepsPerEpoch() * s.epochs();
        long warmup = s.warmupSteps() >= 0 ? s.warmupSteps() : (long) Math.ceil(s.warmupRatio() * total);
        String fingerprint = fingerprint(total, warmup);
        Optional<Path> resumeFrom = resumePoint(out);
        TrainerState state;
        LoraAdapter adapter;
        if (resumeFrom.isPresent()) {
            Path ckpt = resumeFrom.get();
            state = resumedState(ckpt, fingerprint);
            adapter = Adapters.read(model, ckpt, s.adapterName(), s.lora().loraDropout());
            requireSameConfig(adapter.config(), s.lora(), ckpt);
            log.info(
                    "resuming from {} at step {}/{} (epoch {}, example {} of {})",
                    ckpt,
                    state.step(),
                    total,
                    state.epoch() + 1,
                    state.position(),
                    train.size());
        } else {
            state = new TrainerState(0, 0, 0, 0, 0, Double.NaN, Double.NaN, 0, false, fingerprint, List.of());
            // A starting adapter's weights under this run's config (its own, with this run's base and dropout).
            adapter = s.initAdapter() != null
                    ? Adapters.read(model, s.initAdapter(), s.adapterName(), s.lora())
                    : LoraAdapter.create(model, s.adapterName(), s.lora(), s.seed());
        }
        lora.attach(adapter);
        lora.activate(s.adapterName());
        LoraParameters params = new LoraParameters(adapter);
        logPlan(adapter, params, total, warmup);
        try (AdamW adamw =
                new AdamW(params.arrays(), s.beta1(), s.beta2(), s.eps(), s.weightDecay(), model.manager())) {
            resumeFrom.ifPresent(ckpt -> Checkpoints.restoreOptimizer(ckpt, params, adamw));
            return loop(new Run(lora, adapter, params, adamw, total, warmup, out), new Progress(state));
        }
    }

    private long stepsPerEpoch() {
        int perStep = s.batchSize() * s.gradientAccumulation();
        return (train.size() + perStep - 1) / perStep;
    }

    /** The checkpoint to continue from; refuses to start over an earlier run's checkpoints unless resuming. */
    private Optional<Path> resumePoint(Path out) {
        if (s.resume()) {
            Optional<Path> latest = Checkpoints.latest(out);
            if (latest.isEmpty()) {
                log.warn("--resume: no checkpoint in {}; starting from the beginning", out);
            }
            return latest;
        }
        List<Path> existing = Checkpoints.list(out);
        if (!existing.isEmpty()) {
            throw new IllegalStateException(out + " holds checkpoints of an earlier run ("
                    + existing.get(0).getFileName() + "): resume it, or choose another output folder");
        }
        return Optional.empty();
    }

    private static TrainerState resumedState(Path ckpt, String fingerprint) {
        TrainerState state = Checkpoints.readState(ckpt);
        if (!state.fingerprint().equals(fingerprint)) {
            throw new IllegalStateException("cannot resume from " + ckpt + ": it was made with other settings or"
                    + " data.\n  checkpoint: " + state.fingerprint() + "\n  this run:   " + fingerprint);
        }
        return state;
    }

    private void logPlan(LoraAdapter adapter, LoraParameters params, long total, long warmup) {
        log.info(
                "training {} LoRA parameters ({} tensors) of adapter {}: {} steps ({} per epoch, {} examples x"
                        + " {} epochs, batch {} x {} accumulation), warm-up {} steps, {} schedule, peak lr {}",
                adapter.parameterCount(),
                params.names().size(),
                s.adapterName(),
                total,
                stepsPerEpoch(),
                train.size(),
                s.epochs(),
                s.batchSize(),
                s.gradientAccumulation(),
                warmup,
                s.schedule(),
                s.learningRate());
    }

    private Outcome loop(Run run, Progress p) {
        if (p.step == 0 && eval.size() > 0) {
            // The base model's loss (B = 0 at the start): the reference every later evaluation is read against.
            p.initialEval = evaluate(run.lora(), eval);
            log.info("held-out loss before training: {}", fmt(p.initialEval));
        }
        long started = System.nanoTime();
        long firstStep = p.step;
        p.order = permutation(p.epoch);
        while (p.step < run.total() && !p.stopped) {
            long stepStart = System.nanoTime();
            StepData data = nextStepData(p);
            double lr = s.learningRate() * s.schedule().factor(p.step, run.warmup(), run.total());
            double lossSum = accumulate(run.lora(), data, p.step);
            double gradNorm = optimizerStep(run, lr);
            long trained = System.nanoTime(); // tokens/s of the step itself, not of the evaluation after it
            p.step++;
            p.position += data.examples();
            p.tokensSeen += data.tokens();
            double loss = lossSum / data.targets();
            if (!Double.isFinite(loss)) {
                throw new IllegalStateException("step " + p.step + ": the loss is " + loss);
            }
            boolean evalNow =
                    eval.size() > 0 && (p.step == run.total() || (s.evalEvery() > 0 && p.step % s.evalEvery() == 0));
            double evalLoss = evalNow ? evaluateAndTrackBest(run, p) : Double.NaN;
            long now = System.nanoTime();
            double runSeconds = (now - started) / 1e9;
            double eta = runSeconds / (p.step - firstStep) * (run.total() - p.step);
            StepStats stats = new StepStats(
                    p.step,
                    run.total(),
                    p.epoch + (double) p.position / train.size(),
                    loss,
                    evalLoss,
                    lr,
                    gradNorm,
                    data.tokens(),
                    data.tokens() / ((trained - stepStart) / 1e9),
                    p.elapsedBefore + runSeconds,
                    eta);
            p.history.add(stats);
            report(stats, evalNow);
            checkpointIfDue(run, p, runSeconds);
        }
        run.lora().setTraining(false);
        return new Outcome(p.state((System.nanoTime() - started) / 1e9), p.lastEval);
    }

    /**
     * Batch assembly: the next {@code batchSize x gradientAccumulation} examples in the epoch's order
     * (fewer at the epoch's end), as micro-batches; an epoch used up starts the next with a new order.
     */
    private StepData nextStepData(Progress p) {
        if (p.position >= train.size()) {
            p.epoch++;
            p.position = 0;
            p.order = permutation(p.epoch);
        }
        int take = Math.min(s.batchSize() * s.gradientAccumulation(), train.size() - p.position);
        List<Objective.Micro> micro = new ArrayList<>();
        int targets = 0;
        int tokens = 0;
        for (int from = 0; from < take; from += s.batchSize()) {
            int[] rows = new int[Math.min(take, from + s.batchSize()) - from];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = p.order[p.position + from + i];
            }
            Objective.Micro m = train.micro(rows);
            micro.add(m);
            targets += m.units();
            tokens += m.batch().tokens();
        }
        return new StepData(micro, take, tokens, targets);
    }

    /**
     * Gradient accumulation: forward and backward over each micro-batch, each scaled to its share of
     * the step's mean, so the gradients summed on the LoRA parameters are the whole step's. Returns
     * the loss sum.
     */
    private double accumulate(LoraAdapters lora, StepData data, long step) {
        double lossSum = 0;
        lora.setTraining(true);
        for (int k = 0; k < data.micro().size(); k++) {
            Engine.getInstance().setRandomSeed(microSeed(step, k));
            Objective.Micro m = data.micro().get(k);
            // SFT: the step's sum over all its targets; DPO/KTO: the mean of the micro-batches' means (TRL).
            double denominator = train.meanOfMicroBatches()
                    ? (double) m.units() * data.micro().size()
                    : data.targets();
            lossSum += forwardBackward(m, denominator, microSeed(step, k));
        }
        return lossSum;
    }

    /** Clips the accumulated gradients, steps AdamW and clears them; returns their norm before clipping. */
    private double optimizerStep(Run run, double lr) {
        double gradNorm = run.params().clipGradNorm(s.maxGradNorm());
        run.adamw().step(run.params().arrays(), lr);
        run.params().zeroGradients();
        return gradNorm;
    }

    /**
     * Early stopping: the held-out loss after this step; a new best is saved to {@code best/}, and
     * {@code earlyStopPatience} evaluations without improvement stop the run.
     */
    private double evaluateAndTrackBest(Run run, Progress p) {
        double evalLoss = evaluate(run.lora(), eval);
        p.lastEval = evalLoss;
        if (Double.isNaN(p.best) || evalLoss < p.best - s.earlyStopMinDelta()) {
            p.best = evalLoss;
            p.sinceBest = 0;
            run.adapter().save(run.out().resolve("best"));
        } else {
            p.sinceBest++;
            if (s.earlyStopPatience() > 0 && p.sinceBest >= s.earlyStopPatience()) {
                p.stopped = true;
                log.info(
                        "early stop at step {}: held-out loss {} has not improved on {} for {} evaluations",
                        p.step,
                        fmt(evalLoss),
                        fmt(p.best),
                        p.sinceBest);
            }
        }
        return evalLoss;
    }

    private void report(StepStats stats, boolean evaluated) {
        long step = stats.step();
        if (s.logEvery() > 0 && (step % s.logEvery() == 0 || step == stats.totalSteps() || evaluated)) {
            log.info(String.format(
                    Locale.ROOT,
                    "step %d/%d  epoch %.2f  loss %.4f%s  lr %.3e  grad-norm %.3f  %.0f tok/s  eta %s",
                    step,
                    stats.totalSteps(),
                    stats.epoch(),
                    stats.loss(),
                    evaluated ? "  eval-loss " + fmt(stats.evalLoss()) : "",
                    stats.learningRate(),
                    stats.gradNorm(),
                    stats.tokensPerSecond(),
                    duration(stats.etaSeconds())));
        }
        if (listener != null) {
            listener.accept(stats);
        }
    }

    /** Checkpointing: after the last step, and every {@code saveEvery} steps; the loss curve with it. */
    private void checkpointIfDue(Run run, Progress p, double runSeconds) {
        boolean last = p.step == run.total() || p.stopped;
        if (last || (s.saveEvery() > 0 && p.step % s.saveEvery() == 0)) {
            Checkpoints.save(
                    run.out(), run.adapter(), run.params(), run.adamw(), p.state(runSeconds), s.keepCheckpoints());
            LossCurve.writeCsv(p.history, run.out().resolve("loss.csv"));
        }
    }

    /** Forward, loss (this micro-batch's share of the step's mean) and backward; returns the loss sum. */
    private double forwardBackward(Objective.Micro m, double stepTargets, long seed) {
        Batch b = m.batch();
        if (s.gradientCheckpointing()) {
            try (NDScope scope = new NDScope()) {
                NDArray ids = model.manager().create(b.ids(), new Shape(b.rows(), b.length()));
                NDArray[] sum = new NDArray[1];
                CheckpointedBackward.run(
                        model,
                        ids,
                        new int[b.rows()],
                        logits -> {
                            sum[0] = train.lossSum(logits, m);
                            return CausalLmLoss.scale(sum[0], 1.0 / stepTargets);
                        },
                        seed);
                return sum[0].getFloat();
            }
        }
        try (NDScope scope = new NDScope()) {
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray ids = model.manager().create(b.ids(), new Shape(b.rows(), b.length()));
                NDArray sum = train.lossSum(model.forward(ids, new int[b.rows()]), m);
                gc.backward(CausalLmLoss.scale(sum, 1.0 / stepTargets));
                return sum.getFloat();
            }
        }
    }

    /** The objective's mean loss per unit over all of {@code data}, without dropout or gradients. */
    double evaluate(LoraAdapters lora, Objective data) {
        lora.setTraining(false);
        double sum = 0;
        long targets = 0;
        for (int from = 0; from < data.size(); from += s.batchSize()) {
            int[] rows = new int[Math.min(data.size(), from + s.batchSize()) - from];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = from + i;
            }
            Objective.Micro m = data.micro(rows);
            Batch b = m.batch();
            try (NDScope scope = new NDScope()) {
                NDArray ids = model.manager().create(b.ids(), new Shape(b.rows(), b.length()));
                sum += data.lossSum(model.forward(ids, new int[b.rows()]), m).getFloat();
            }
            targets += m.units();
        }
        lora.setTraining(true);
        return sum / targets;
    }

    /** The order of the training examples in epoch {@code epoch}: Fisher-Yates from (seed, epoch). */
    int[] permutation(int epoch) {
        int[] order = new int[train.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        if (train.sequential()) {
            return order; // file order, fixed micro-batches (KTO's KL pairing)
        }
        SplittableRandom r = new SplittableRandom(Seeds.mix(s.seed(), 0x5EED_0000L + epoch));
        for (int i = order.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    private int microSeed(long step, int micro) {
        return (int) Seeds.mix(Seeds.mix(s.seed(), step), micro);
    }

    /** Settings and data that must not change between a run and its resume. */
    private String fingerprint(long total, long warmup) {
        CRC32 crc = new CRC32();
        train.fingerprint(crc);
        if (s.initAdapter() != null) {
            try {
                crc.update(Files.readAllBytes(s.initAdapter().resolve(LoraAdapter.WEIGHTS_FILE)));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + s.initAdapter() + ": " + e.getMessage(), e);
            }
        }
        return String.format(
                Locale.ROOT,
                "train=%d data-crc=%08x eval=%d steps=%d warmup=%d lr=%s schedule=%s batch=%d"
                        + " accum=%d seed=%d wd=%s betas=%s,%s eps=%s clip=%s",
                train.size(),
                crc.getValue(),
                eval.size(),
                total,
                warmup,
                s.learningRate(),
                s.schedule(),
                s.batchSize(),
                s.gradientAccumulation(),
                s.seed(),
                s.weightDecay(),
                s.beta1(),
                s.beta2(),
                s.eps(),
                s.maxGradNorm());
    }

    private static void requireSameConfig(LoraConfig found, LoraConfig wanted, Path ckpt) {
        if (!found.toJson()
                .equals(Adapters.withDropout(wanted, wanted.loraDropout()).toJson())) {
            throw new IllegalStateException("cannot resume from " + ckpt + ": its adapter_config.json differs from"
                    + " this run's LoRA settings");
        }
    }

    static String fmt(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }

    static String duration(double seconds) {
        if (!Double.isFinite(seconds)) {
            return "?";
        }
        long t = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    }
}
