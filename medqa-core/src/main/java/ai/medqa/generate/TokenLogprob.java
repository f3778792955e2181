package ai.medqa.generate;

import java.util.List;

/**
 * The log-probability of one generated token under the model (log-softmax of its raw logits: before
 * temperature, penalties, top-k/top-p and constraints, as vLLM's and OpenAI's {@code logprobs}), and
 * the most likely tokens at that step.
 *
 * @param id the token chosen
 * @param logprob its natural-log probability
 * @param top the {@code n} most likely tokens of that step, most likely first (empty if none were asked)
 */
public record TokenLogprob(int id, float logprob, List<Alternative> top) {

    /** One of the most likely tokens of a step. */
    public record Alternative(int id, float logprob) {}

    public TokenLogprob {
        top = List.copyOf(top);
    }

    /** Token {@code id}'s log-probability in {@code logits}, with the {@code n} most likely tokens. */
    static TokenLogprob of(float[] logits, int id, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (float l : logits) {
            sum += Math.exp(l - max);
        }
        double logZ = max + Math.log(sum);
        Alternative[] best = new Alternative[n];
        int count = 0;
        for (int i = 0; i < logits.length && n > 0; i++) {
            // Insertion into the n best so far (n <= 20: cheaper than sorting 32,000 logits).
            if (count < n || logits[i] > best[count - 1].logprob()) {
                int at = Math.min(count, n - 1);
                while (at > 0 && best[at - 1].logprob() < logits[i]) {
                    if (at < n) {
                        best[at] = best[at - 1];
                    }
                    at--;
                }
                best[at] = new Alternative(i, logits[i]);
                count = Math.min(n, count + 1);
            }
        }
        Alternative[] top = new Alternative[count];
        for (int i = 0; i < count; i++) {
            top[i] = new Alternative(best[i].id(), (float) (best[i].logprob() - logZ));
        }
        return new TokenLogprob(id, (float) (logits[id] - logZ), List.of(top));
    }
}
