package ai.medqa.generate;

import java.util.Arrays;

/**
 * transformers' {@code RepetitionPenaltyLogitsProcessor}: every id seen so far (prompt included) has its
 * logit divided by the penalty when positive and multiplied when negative, so a penalty above 1 always
 * makes it less likely. An id seen several times is penalised once: transformers gathers the original
 * scores and scatters the results, so repeats write the same value.
 */
final class RepetitionPenaltyProcessor implements LogitsProcessor {
    private final float penalty;

    RepetitionPenaltyProcessor(double penalty) {
        this.penalty = (float) penalty; // torch multiplies a float32 tensor by the scalar cast to float32
    }

    @Override
    public void process(int[] prevIds, int prevLen, float[] logits) {
        int[] ids = Arrays.copyOf(prevIds, prevLen);
        Arrays.sort(ids);
        for (int i = 0; i < ids.length; i++) {
            if (i > 0 && ids[i] == ids[i - 1]) {
                continue;
            }
            apply(logits, checkId(ids[i], logits.length), penalty);
        }
    }

    static void apply(float[] logits, int id, float penalty) {
        float s = logits[id];
        logits[id] = s < 0 ? s * penalty : s / penalty;
    }

    static int checkId(int id, int vocab) {
        if (id < 0 || id >= vocab) {
            throw new IllegalArgumentException(
                    "previous token id " + id + " is outside the vocabulary [0, " + vocab + ")");
        }
        return id;
    }
}
