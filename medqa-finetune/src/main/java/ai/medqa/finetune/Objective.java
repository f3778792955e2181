package ai.medqa.finetune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.medqa.model.MistralModel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * What a training run minimizes, over its units: next-token cross-entropy summed over the completion
 * tokens of examples ({@link #sft}), or the DPO loss summed over preference pairs ({@link #dpo}).
 * The trainer divides each optimizer step's sum by the step's units, as transformers' Trainer does
 * with {@code num_items_in_batch} (SFT) and TRL's DPOTrainer with its per-pair mean (DPO).
 */
interface Objective {

    /**
     * A micro-batch: its token batch, the units its loss sums over, the reference log-probs (DPO, KTO),
     * and for KTO which rows were liked, the mismatched batch of its KL estimate and the reference's
     * summed log-probabilities of it.
     */
    record Micro(Batch batch, int units, float[] reference, boolean[] desirable, Batch klBatch, double referenceKl) {}

    /** Units (examples or pairs) in the data. */
    int size();

    /** The micro-batch of units {@code indices} (in that order). */
    Micro micro(int[] indices);

    /** The loss summed over the micro-batch's units, recorded for autograd. */
    NDArray lossSum(NDArray logits, Micro micro);

    /** Folds the data into a resume fingerprint. */
    void fingerprint(CRC32 crc);

    /** "completion tokens" or "pairs": what the held-out loss is a mean over. */
    String unit();

    /**
     * Whether a step's loss is the mean of its micro-batches' means (TRL's preference trainers, which
     * set {@code model_accepts_loss_kwargs=False}) rather than its sum over all its units (transformers'
     * {@code num_items_in_batch}, SFT).
     */
    default boolean meanOfMicroBatches() {
        return false;
    }

    /**
     * Whether examples must be taken in file order, in fixed micro-batches (KTO: its KL estimate pairs
     * each example with its neighbour's completion within the batch, as TRL's sequential sampling does).
     */
    default boolean sequential() {
        return false;
    }

    /** Cross-entropy over the completion tokens of {@code examples} (the supervised fine-tuning loss). */
    static Objective sft(List<TokenizedExample> examples, int padId) {
        return new Objective() {
            @Override
            public int size() {
                return examples.size();
            }

            @Override
            public Micro micro(int[] indices) {
                List<TokenizedExample> rows = new ArrayList<>();
                for (int i : indices) {
                    rows.add(examples.get(i));
                }
                Batch b = Batch.of(rows, padId);
                return new Micro(b, b.targets(), null, null, null, 0);
            }

            @Override
            public NDArray lossSum(NDArray logits, Micro micro) {
                return CausalLmLoss.sum(logits, micro.batch());
            }

            @Override
            public void fingerprint(CRC32 crc) {
                for (TokenizedExample e : examples) {
                    ids(crc, e.ids());
                    crc.update(e.promptLength());
                }
            }

            @Override
            public String unit() {
                return "completion tokens";
            }
        };
    }

    /**
     * The DPO loss over {@code pairs}, against {@code reference} log-probabilities computed once (two per
     * pair: chosen, rejected), with {@code beta}.
     */
    static Objective dpo(List<PreferenceLoss.Pair> pairs, float[][] reference, double beta, int padId) {
        return new Objective() {
            @Override
            public int size() {
                return pairs.size();
            }

            @Override
            public Micro micro(int[] indices) {
                List<PreferenceLoss.Pair> rows = new ArrayList<>();
                float[] ref = new float[2 * indices.length];
                for (int k = 0; k < indices.length; k++) {
                    rows.add(pairs.get(indices[k]));
                    ref[k] = reference[indices[k]][0];
                    ref[indices.length + k] = reference[indices[k]][1];
                }
                return new Micro(PreferenceLoss.batch(rows, padId), indices.length, ref, null, null, 0);
            }

            @Override
            public NDArray lossSum(NDArray logits, Micro micro) {
                NDArray policy = PreferenceLoss.sequenceLogps(logits, micro.batch());
                return CausalLmLoss.scale(
                        PreferenceLoss.dpo(policy, micro.reference(), beta).loss(), micro.units());
            }

            @Override
            public void fingerprint(CRC32 crc) {
                crc.update(Double.toString(beta).getBytes(StandardCharsets.US_ASCII));
                for (PreferenceLoss.Pair p : pairs) {
                    ids(crc, p.prompt());
                    ids(crc, p.chosen());
                    ids(crc, p.rejected());
                }
            }

            @Override
            public String unit() {
                return "pairs";
            }

            @Override
            public boolean meanOfMicroBatches() {
                return true;
            }
        };
    }

    /**
     * The KTO loss over {@code examples}, in a fixed order and micro-batches of {@code batchSize} (TRL's
     * pairing for the KL estimate), against {@code reference} log-probabilities computed once: per
     * example, {matched, mismatched}. The policy's KL estimate runs inside the loss, in training mode
     * and after the step's seeding (as TRL runs it: dropout on, no gradient), so resumes are exact.
     */
    static Objective kto(
            MistralModel model,
            List<PreferenceLoss.Labeled> examples,
            float[][] reference,
            double beta,
            double desirableWeight,
            double undesirableWeight,
            int padId,
            int maxLength) {
        return new Objective() {
            @Override
            public int size() {
                return examples.size();
            }

            @Override
            public Micro micro(int[] indices) {
                List<PreferenceLoss.Labeled> rows = new ArrayList<>();
                float[] ref = new float[indices.length];
                boolean[] desirable = new boolean[indices.length];
                double refKl = 0;
                for (int k = 0; k < indices.length; k++) {
                    rows.add(examples.get(indices[k]));
                    ref[k] = reference[indices[k]][0];
                    refKl += reference[indices[k]][1];
                    desirable[k] = examples.get(indices[k]).desirable();
                }
                return new Micro(
                        PreferenceLoss.labeledBatch(rows, padId),
                        indices.length,
                        ref,
                        desirable,
                        PreferenceLoss.klBatch(rows, padId, maxLength),
                        refKl);
            }

            @Override
            public NDArray lossSum(NDArray logits, Micro micro) {
                NDArray policy = PreferenceLoss.sequenceLogps(logits, micro.batch());
                return PreferenceLoss.ktoSum(
                        policy,
                        micro.reference(),
                        micro.desirable(),
                        klEstimate(model, micro),
                        beta,
                        desirableWeight,
                        undesirableWeight);
            }

            @Override
            public void fingerprint(CRC32 crc) {
                crc.update(("kto " + beta + " " + desirableWeight + " " + undesirableWeight)
                        .getBytes(StandardCharsets.US_ASCII));
                for (PreferenceLoss.Labeled e : examples) {
                    ids(crc, e.prompt());
                    ids(crc, e.completion());
                    crc.update(e.desirable() ? 1 : 0);
                }
            }

            @Override
            public String unit() {
                return "examples";
            }

            @Override
            public boolean sequential() {
                return true;
            }

            @Override
            public boolean meanOfMicroBatches() {
                return true;
            }
        };
    }

    /**
     * KTO's KL estimate of a micro-batch: the policy's mean log-probability of the mismatched
     * completions minus the reference's, clamped at 0, computed without recording gradients (TRL:
     * {@code torch.no_grad()}, in whatever training mode the model is in).
     */
    static double klEstimate(MistralModel model, Micro micro) {
        Batch kl = micro.klBatch();
        double policy = 0;
        boolean recording = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray ids = model.manager().create(kl.ids(), new Shape(kl.rows(), kl.length()));
            for (float v : PreferenceLoss.sequenceLogps(model.forward(ids, new int[kl.rows()]), kl)
                    .toFloatArray()) {
                policy += v;
            }
        } finally {
            JniUtils.setGradMode(recording);
        }
        return Math.max(0, (float) ((policy - micro.referenceKl()) / micro.units()));
    }

    private static void ids(CRC32 crc, int[] ids) {
        for (int id : ids) {
            crc.update(id);
            crc.update(id >>> 8);
            crc.update(id >>> 16);
        }
    }
}
