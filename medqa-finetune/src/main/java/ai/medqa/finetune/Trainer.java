package ai.medqa.finetune;

import ai.medqa.common.Seeds;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraAdapters;
import ai.medqa.lora.LoraConfig;
import ai.medqa.model.MistralModel;
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
    private final List<TokenizedExample> train;
    private final List<TokenizedExample> eval;
    private final int padId;
    private final Consumer<StepStats> listener;

    Trainer(FineTune.Settings settings, MistralModel model, List<TokenizedExample> train, List<TokenizedExample> eval,
            int padId, Consumer<StepStats> listener) {
        this.s = settings;
        this.model = model;
        this.train = train;
        this.eval = eval;
        this.padId = padId;
        this.listener = listener;
    }

    record Outcome(TrainerState state, double lastEval) {}

    Outcome run(LoraAdapters lora, Path out) {
        int perStep = s.batchSize() * s.gradientAccumulation();
        long stepsPerEpoch = (train.size() + perStep - 1) / perStep;
        long total = s.maxSteps() > 0 ? s.maxSteps() : stepsPerEpoch * s.epochs();
        long warmup = s.warmupSteps() >= 0 ? s.warmupSteps() : (long) Math.ceil(s.warmupRatio() * total);
        String fingerprint = fingerprint(total, warmup);

        Optional<Path> resumeFrom = Optional.empty();
        List<Path> existing = Checkpoints.list(out);
        if (s.resume()) {
            resumeFrom = Checkpoints.latest(out);
            if (resumeFrom.isEmpty()) {
                log.warn("--resume: no checkpoint in {}; starting from the beginning", out);
            }
        } else if (!existing.isEmpty()) {
            throw new IllegalStateException(out + " holds checkpoints of an earlier run (" + existing.get(0).getFileName()
                    + "): resume it, or choose another output folder");
        }

        TrainerState state;
        LoraAdapter adapter;
        if (resumeFrom.isPresent()) {
            Path ckpt = resumeFrom.get();
            state = Checkpoints.readState(ckpt);
            if (!state.fingerprint().equals(fingerprint)) {
                throw new IllegalStateException("cannot resume from " + ckpt + ": it was made with other settings or"
                        + " data.\n  checkpoint: " + state.fingerprint() + "\n  this run:   " + fingerprint);
            }
            adapter = Adapters.read(model, ckpt, s.adapterName(), s.lora().loraDropout());
            requireSameConfig(adapter.config(), s.lora(), ckpt);
            log.info("resuming from {} at step {}/{} (epoch {}, example {} of {})", ckpt, state.step(), total,
                    state.epoch() + 1, state.position(), train.size());
        } else {
            state = new TrainerState(0, 0, 0, 0, 0, Double.NaN, Double.NaN, 0, false, fingerprint, List.of());
            adapter = LoraAdapter.create(model, s.adapterName(), s.lora(), s.seed());
        }
        lora.attach(adapter);
        lora.activate(s.adapterName());
        LoraParameters params = new LoraParameters(adapter);
        log.info("training {} LoRA parameters ({} tensors) of adapter {}: {} steps ({} per epoch, {} examples x"
                        + " {} epochs, batch {} x {} accumulation), warm-up {} steps, {} schedule, peak lr {}",
                adapter.parameterCount(), params.names().size(), s.adapterName(), total, stepsPerEpoch, train.size(),
                s.epochs(), s.batchSize(), s.gradientAccumulation(), warmup, s.schedule(), s.learningRate());

        try (AdamW adamw = new AdamW(params.arrays(), s.beta1(), s.beta2(), s.eps(), s.weightDecay(), model.manager())) {
            resumeFrom.ifPresent(ckpt -> Checkpoints.restoreOptimizer(ckpt, params, adamw));
            return loop(lora, adapter, params, adamw, state, total, warmup, out);
        }
    }

    private Outcome loop(LoraAdapters lora, LoraAdapter adapter, LoraParameters params, AdamW adamw,
            TrainerState state, long total, long warmup, Path out) {
        List<StepStats> history = new ArrayList<>(state.history());
        long step = state.step();
        int epoch = state.epoch();
        int position = state.position();
        double elapsedBefore = state.elapsedSeconds();
        long tokensSeen = state.tokensSeen();
        double best = state.bestEvalLoss();
        int sinceBest = state.evalsWithoutImprovement();
        boolean stopped = state.stoppedEarly();
        double lastEval = Double.NaN;
        for (StepStats h : history) {
            lastEval = Double.isNaN(h.evalLoss()) ? lastEval : h.evalLoss();
        }
        double initialEval = state.initialEvalLoss();
        if (step == 0 && !eval.isEmpty()) {
            // The base model's loss (B = 0 at the start): the reference every later evaluation is read against.
            initialEval = evaluate(lora, eval);
            log.info("held-out loss before training: {}", fmt(initialEval));
        }
        long started = System.nanoTime();
        long firstStep = step;
        int[] order = permutation(epoch);
        int perStep = s.batchSize() * s.gradientAccumulation();

        while (step < total && !stopped) {
            if (position >= train.size()) {
                epoch++;
                position = 0;
                order = permutation(epoch);
            }
            long stepStart = System.nanoTime();
            int take = Math.min(perStep, train.size() - position);
            List<Batch> micro = new ArrayList<>();
            int targets = 0;
            int tokens = 0;
            for (int from = 0; from < take; from += s.batchSize()) {
                List<TokenizedExample> rows = new ArrayList<>();
                for (int i = from; i < Math.min(take, from + s.batchSize()); i++) {
                    rows.add(train.get(order[position + i]));
                }
                Batch b = Batch.of(rows, padId);
                micro.add(b);
                targets += b.targets();
                tokens += b.tokens();
            }
            double lr = s.learningRate() * s.schedule().factor(step, warmup, total);
            double lossSum = 0;
            lora.setTraining(true);
            for (int k = 0; k < micro.size(); k++) {
                Engine.getInstance().setRandomSeed(microSeed(step, k));
                lossSum += forwardBackward(micro.get(k), targets, microSeed(step, k));
            }
            double gradNorm = params.clipGradNorm(s.maxGradNorm());
            adamw.step(params.arrays(), lr);
            params.zeroGradients();
            step++;
            position += take;
            tokensSeen += tokens;
            double loss = lossSum / targets;
            if (!Double.isFinite(loss)) {
                throw new IllegalStateException("step " + step + ": the loss is " + loss);
            }

            double evalLoss = Double.NaN;
            boolean evalNow = !eval.isEmpty() && (step == total || (s.evalEvery() > 0 && step % s.evalEvery() == 0));
            if (evalNow) {
                evalLoss = evaluate(lora, eval);
                lastEval = evalLoss;
                if (Double.isNaN(best) || evalLoss < best - s.earlyStopMinDelta()) {
                    best = evalLoss;
                    sinceBest = 0;
                    adapter.save(out.resolve("best"));
                } else {
                    sinceBest++;
                    if (s.earlyStopPatience() > 0 && sinceBest >= s.earlyStopPatience()) {
                        stopped = true;
                        log.info("early stop at step {}: held-out loss {} has not improved on {} for {} evaluations",
                                step, fmt(evalLoss), fmt(best), sinceBest);
                    }
                }
            }
            long now = System.nanoTime();
            double stepSeconds = (now - stepStart) / 1e9;
            double runSeconds = (now - started) / 1e9;
            double eta = runSeconds / (step - firstStep) * (total - step);
            StepStats stats = new StepStats(step, total, epoch + (double) position / train.size(), loss, evalLoss, lr,
                    gradNorm, tokens, tokens / stepSeconds, elapsedBefore + runSeconds, eta);
            history.add(stats);
            if (s.logEvery() > 0 && (step % s.logEvery() == 0 || step == total || evalNow)) {
                log.info(String.format(Locale.ROOT,
                        "step %d/%d  epoch %.2f  loss %.4f%s  lr %.3e  grad-norm %.3f  %.0f tok/s  eta %s", step, total,
                        stats.epoch(), loss, evalNow ? "  eval-loss " + fmt(evalLoss) : "", lr, gradNorm,
                        stats.tokensPerSecond(), duration(eta)));
            }
            if (listener != null) {
                listener.accept(stats);
            }
            boolean last = step == total || stopped;
            if (last || (s.saveEvery() > 0 && step % s.saveEvery() == 0)) {
                TrainerState now2 = new TrainerState(step, epoch, position, elapsedBefore + runSeconds, tokensSeen,
                        initialEval, best,
                        sinceBest, stopped, state.fingerprint(), history);
                Checkpoints.save(out, adapter, params, adamw, now2, s.keepCheckpoints());
                LossCurve.writeCsv(history, out.resolve("loss.csv"));
            }
        }
        lora.setTraining(false);
        double elapsed = elapsedBefore + (System.nanoTime() - started) / 1e9;
        return new Outcome(new TrainerState(step, epoch, position, elapsed, tokensSeen, initialEval, best, sinceBest, stopped,
                state.fingerprint(), history), lastEval);
    }

    /** Forward, loss (this micro-batch's share of the step's mean) and backward; returns the loss sum. */
    private double forwardBackward(Batch b, int stepTargets, long seed) {
        if (s.gradientCheckpointing()) {
            try (NDScope scope = new NDScope()) {
                NDArray ids = model.manager().create(b.ids(), new Shape(b.rows(), b.length()));
                NDArray[] sum = new NDArray[1];
                CheckpointedBackward.run(model, ids, new int[b.rows()], logits -> {
                    sum[0] = CausalLmLoss.sum(logits, b);
                    return CausalLmLoss.scale(sum[0], 1.0 / stepTargets);
                }, seed);
                return sum[0].getFloat();
            }
        }
        try (NDScope scope = new NDScope()) {
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray ids = model.manager().create(b.ids(), new Shape(b.rows(), b.length()));
                NDArray sum = CausalLmLoss.sum(model.forward(ids, new int[b.rows()]), b);
                gc.backward(CausalLmLoss.scale(sum, 1.0 / stepTargets));
                return sum.getFloat();
            }
        }
    }

    /** Mean cross-entropy per completion token over {@code examples}, without dropout or gradients. */
    double evaluate(LoraAdapters lora, List<TokenizedExample> examples) {
        lora.setTraining(false);
        double sum = 0;
        long targets = 0;
        for (int from = 0; from < examples.size(); from += s.batchSize()) {
            Batch b = Batch.of(examples.subList(from, Math.min(examples.size(), from + s.batchSize())), padId);
            try (NDScope scope = new NDScope()) {
                NDArray ids = model.manager().create(b.ids(), new Shape(b.rows(), b.length()));
                sum += CausalLmLoss.sum(model.forward(ids, new int[b.rows()]), b).getFloat();
            }
            targets += b.targets();
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
        SplittableRandom r = new SplittableRandom(mix(s.seed(), 0x5EED_0000L + epoch));
        for (int i = order.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    private int microSeed(long step, int micro) {
        return (int) mix(mix(s.seed(), step), micro);
    }

    static long mix(long a, long b) {
        return Seeds.mix(a, b);
    }

    /** Settings and data that must not change between a run and its resume. */
    private String fingerprint(long total, long warmup) {
        CRC32 crc = new CRC32();
        for (TokenizedExample e : train) {
            for (int id : e.ids()) {
                crc.update(id);
                crc.update(id >>> 8);
                crc.update(id >>> 16);
            }
            crc.update(e.promptLength());
        }
        return String.format(Locale.ROOT, "train=%d data-crc=%08x eval=%d steps=%d warmup=%d lr=%s schedule=%s batch=%d"
                        + " accum=%d seed=%d wd=%s betas=%s,%s eps=%s clip=%s", train.size(), crc.getValue(),
                eval.size(), total, warmup, s.learningRate(), s.schedule(), s.batchSize(), s.gradientAccumulation(),
                s.seed(), s.weightDecay(), s.beta1(), s.beta2(), s.eps(), s.maxGradNorm());
    }

    private static void requireSameConfig(LoraConfig found, LoraConfig wanted, Path ckpt) {
        if (!found.toJson().equals(Adapters.withDropout(wanted, wanted.loraDropout()).toJson())) {
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
