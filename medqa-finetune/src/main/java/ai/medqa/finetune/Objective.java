package ai.medqa.finetune;

import ai.djl.ndarray.NDArray;
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
     * and for KTO the batch's KL estimate and which rows were liked.
     */
    record Micro(Batch batch, int units, float[] reference, double kl, boolean[] desirable) {}

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
                return new Micro(b, b.targets(), null, 0, null);
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
                return new Micro(PreferenceLoss.batch(rows, padId), indices.length, ref, 0, null);
            }

            @Override
            public NDArray lossSum(NDArray logits, Micro micro) {
                NDArray policy = PreferenceLoss.sequenceLogps(logits, micro.batch());
                return CausalLmLoss.scale(PreferenceLoss.dpo(policy, micro.reference(), beta).loss(), micro.units());
            }

            @Override
            public void fingerprint(CRC32 crc) {
                crc.update(Double.toString(beta).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
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
        };
    }

    /**
     * The KTO loss over {@code examples}, in file order and micro-batches of {@code batchSize} (TRL's
     * pairing for the KL estimate), against {@code reference} log-probabilities computed once: per
     * example, {matched, mismatched}. Each micro-batch runs the policy on its mismatched completions
     * (no gradient) for the KL estimate.
     */
    static Objective kto(ai.medqa.model.MistralModel model, List<PreferenceLoss.Labeled> examples, float[][] reference,
            double beta, double desirableWeight, double undesirableWeight, int padId) {
        return new Objective() {
            @Override
            public int size() {
                return examples.size();
            }

            @Override
            public Micro micro(int[] indices) {
                List<PreferenceLoss.Labeled> rows = new ArrayList<>();
                float[] ref = new float[indices.length];
                double refKl = 0;
                for (int k = 0; k < indices.length; k++) {
                    rows.add(examples.get(indices[k]));
                    ref[k] = reference[indices[k]][0];
                    refKl += reference[indices[k]][1];
                }
                Batch kl = PreferenceLoss.klBatch(rows, padId);
                double policyKl = 0;
                try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                    scope.suppressNotUsedWarning();
                    NDArray ids = model.manager().create(kl.ids(), new ai.djl.ndarray.types.Shape(kl.rows(), kl.length()));
                    for (float v : PreferenceLoss.sequenceLogps(model.forward(ids, new int[kl.rows()]), kl).toFloatArray()) {
                        policyKl += v;
                    }
                }
                double estimate = Math.max(0, (float) ((policyKl - refKl) / indices.length));
                boolean[] desirable = new boolean[rows.size()];
                for (int k = 0; k < desirable.length; k++) {
                    desirable[k] = rows.get(k).desirable();
                }
                return new Micro(PreferenceLoss.labeledBatch(rows, padId), indices.length, ref, estimate, desirable);
            }

            @Override
            public NDArray lossSum(NDArray logits, Micro micro) {
                NDArray policy = PreferenceLoss.sequenceLogps(logits, micro.batch());
                return PreferenceLoss.ktoSum(policy, micro.reference(), micro.desirable(), micro.kl(), beta,
                        desirableWeight, undesirableWeight);
            }

            @Override
            public void fingerprint(CRC32 crc) {
                crc.update(("kto " + beta + " " + desirableWeight + " " + undesirableWeight)
                        .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
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
        };
    }

    private static void ids(CRC32 crc, int[] ids) {
        for (int id : ids) {
            crc.update(id);
            crc.update(id >>> 8);
            crc.update(id >>> 16);
        }
    }
}
