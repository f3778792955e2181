package ai.medqa.finetune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.medqa.model.MistralModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Direct Preference Optimization's loss as TRL's {@code DPOTrainer} computes it (its {@code sigmoid}
 * loss, the paper's): for each pair, the summed log-probabilities of the chosen and the rejected
 * completion under the policy (the model with its adapter, recording gradients) and under the
 * reference (the same model with the adapter disabled, as TRL does for a new PEFT adapter), then
 * {@code -logsigmoid(beta * ((pc - rc) - (pr - rr)))}, averaged over pairs; the rewards are
 * {@code beta * (p - r)} of each completion.
 *
 * <p>A batch is TRL's: the chosen sequences ({@code prompt + chosen}) then the rejected ones,
 * right-padded, the completion tokens alone counted.
 */
final class PreferenceLoss {
    private PreferenceLoss() {}

    /** One preference example as token ids: the prompt (with BOS), and the two completions. */
    record Pair(int[] prompt, int[] chosen, int[] rejected) {}

    /** The loss (a recorded scalar) and, per pair, the chosen and rejected rewards. */
    record Dpo(NDArray loss, float[] chosenRewards, float[] rejectedRewards) {}

    /** One KTO example as token ids: the prompt (with BOS), a completion, and whether it was liked. */
    record Labeled(int[] prompt, int[] completion, boolean desirable) {}

    /** The batch of {@code rows}: prompt + completion, the completion tokens as labels. */
    static Batch labeledBatch(List<Labeled> rows, int padId) {
        List<TokenizedExample> out = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            out.add(example("example " + i, rows.get(i).prompt(), rows.get(i).completion()));
        }
        return Batch.of(out, padId);
    }

    /**
     * KTO's mismatched batch for its KL estimate, as TRL builds it: prompt i with the completion of
     * row i - 1 (row 0 with the last row's), each row cut to {@code maxLength} as TRL's collator cuts it.
     */
    static Batch klBatch(List<Labeled> rows, int padId, int maxLength) {
        List<TokenizedExample> out = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            int partner = (i + rows.size() - 1) % rows.size();
            int[] prompt = rows.get(i).prompt();
            int[] completion = rows.get(partner).completion();
            int room = Math.max(1, maxLength - prompt.length);
            out.add(example("kl " + i, prompt, Arrays.copyOf(completion, Math.min(room, completion.length))));
        }
        return Batch.of(out, padId);
    }

    private static TokenizedExample example(String id, int[] prompt, int[] completion) {
        int[] ids = new int[prompt.length + completion.length];
        System.arraycopy(prompt, 0, ids, 0, prompt.length);
        System.arraycopy(completion, 0, ids, prompt.length, completion.length);
        return new TokenizedExample(id, ids, prompt.length, false, false);
    }

    /**
     * The KTO loss ({@code loss_type="kto"}) summed over a batch: a liked completion costs
     * {@code wD (1 - sigmoid(beta (p - r - kl)))}, a disliked one {@code wU (1 - sigmoid(beta (kl - (p - r))))},
     * with {@code kl} the batch's KL estimate (TRL's: the mean policy-minus-reference log-probability of
     * the mismatched completions, clamped at 0, no gradient). TRL averages over the batch; the trainer
     * divides this sum by the step's examples.
     */
    static NDArray ktoSum(
            NDArray policy,
            float[] reference,
            boolean[] desirable,
            double kl,
            double beta,
            double desirableWeight,
            double undesirableWeight) {
        NDManager m = policy.getManager();
        NDArray ref = m.create(reference).toDevice(policy.getDevice(), false);
        float[] sign = new float[desirable.length];
        float[] offset = new float[desirable.length];
        float[] weight = new float[desirable.length];
        for (int i = 0; i < desirable.length; i++) {
            // liked: beta (ratio - kl); disliked: beta (kl - ratio)
            sign[i] = desirable[i] ? 1f : -1f;
            offset[i] = (float) (desirable[i] ? -kl : kl);
            weight[i] = (float) (desirable[i] ? desirableWeight : undesirableWeight);
        }
        NDArray z = CausalLmLoss.scale(policy.sub(ref).mul(m.create(sign)).add(m.create(offset)), beta);
        NDArray one = m.create(1f).toDevice(policy.getDevice(), false);
        return one.sub(Activation.sigmoid(z)).mul(m.create(weight)).sum();
    }

    /** TRL's batch of {@code pairs}: chosen rows, then rejected rows, the completion tokens as labels. */
    static Batch batch(List<Pair> pairs, int padId) {
        List<TokenizedExample> rows = new ArrayList<>();
        for (boolean chosen : new boolean[] {true, false}) {
            for (int i = 0; i < pairs.size(); i++) {
                Pair p = pairs.get(i);
                int[] completion = chosen ? p.chosen() : p.rejected();
                int[] ids = new int[p.prompt().length + completion.length];
                System.arraycopy(p.prompt(), 0, ids, 0, p.prompt().length);
                System.arraycopy(completion, 0, ids, p.prompt().length, completion.length);
                rows.add(new TokenizedExample(
                        (chosen ? "chosen " : "rejected ") + i, ids, p.prompt().length, false, false));
            }
        }
        return Batch.of(rows, padId);
    }

    /**
     * Per row, the summed log-probability of its labels ({@code logits [B, T, V]} float32, position t
     * predicting label t + 1, {@link Batch#IGNORE} skipped): {@code [B]}, recorded for autograd.
     */
    static NDArray sequenceLogps(NDArray logits, Batch batch) {
        return CausalLmLoss.labelLogps(logits, batch).sum(new int[] {1});
    }

    /**
     * The reference log-probabilities of {@code batch}: {@code model} with its adapter disabled, no
     * gradients recorded. {@code disable}/{@code enable} switch the adapter off and back on.
     */
    static float[] referenceLogps(MistralModel model, Batch batch, Runnable disable, Runnable enable) {
        disable.run();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray ids = model.manager().create(batch.ids(), new Shape(batch.rows(), batch.length()));
            return sequenceLogps(model.forward(ids, new int[batch.rows()]), batch)
                    .toFloatArray();
        } finally {
            enable.run();
        }
    }

    /**
     * The DPO loss of policy log-probabilities {@code policy [2P]} (chosen rows first, recorded) against
     * the reference's {@code reference [2P]}.
     */
    static Dpo dpo(NDArray policy, float[] reference, double beta) {
        int pairs = reference.length / 2;
        NDManager m = policy.getManager();
        NDArray ref = m.create(reference).toDevice(policy.getDevice(), false);
        NDArray ratios = policy.sub(ref); // log pi/ref per row
        NDArray chosen = ratios.get(new NDIndex("0:{}", pairs));
        NDArray rejected = ratios.get(new NDIndex("{}:", pairs));
        NDArray z = CausalLmLoss.scale(chosen.sub(rejected), beta);
        // -logsigmoid(z) = softplus(-z) = log(1 + exp(-z)), written stably: max(-z, 0) + log(1 + exp(-|z|)).
        // The constants are arrays of the caller's scope: autograd keeps them (see CausalLmLoss.scale).
        NDArray zero = m.create(0f).toDevice(policy.getDevice(), false);
        NDArray one = m.create(1f).toDevice(policy.getDevice(), false);
        NDArray loss =
                z.neg().maximum(zero).add(z.abs().neg().exp().add(one).log()).mean();
        float[] r = ratios.toFloatArray();
        float[] cr = new float[pairs];
        float[] rr = new float[pairs];
        for (int i = 0; i < pairs; i++) {
            cr[i] = (float) (beta * r[i]);
            rr[i] = (float) (beta * r[pairs + i]);
        }
        return new Dpo(loss, cr, rr);
    }
}
