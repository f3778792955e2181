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

    /** A micro-batch: its token batch, the units its loss sums over, and the reference log-probs (DPO). */
    record Micro(Batch batch, int units, float[] reference) {}

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
                return new Micro(b, b.targets(), null);
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
                return new Micro(PreferenceLoss.batch(rows, padId), indices.length, ref);
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

    private static void ids(CRC32 crc, int[] ids) {
        for (int id : ids) {
            crc.update(id);
            crc.update(id >>> 8);
            crc.update(id >>> 16);
        }
    }
}
