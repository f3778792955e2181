package ai.medqa.metrics.judge;

import ai.medqa.metrics.stats.Correlation;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LLM-as-a-judge: asks a {@link JudgeModel} to rate answers on the seed's 1-4 rubric
 * ({@link JudgePrompt}) and reads the rating with {@link JudgeParser}; {@link #agreement} measures how
 * well the ratings track human ones (the seed reports Pearson ~0.84).
 *
 * <p>A reply without a usable rating is kept as such in its {@link JudgeVerdict}, never replaced by a
 * guess; a model that fails (e.g. {@link JudgeHttpException} after its retries) stops the run, since
 * every later item would most likely fail the same way.
 */
public final class LlmJudge {
    private static final Logger LOG = LoggerFactory.getLogger(LlmJudge.class);

    /** One answer to judge; {@code reference} is an optional expert answer and may be null. */
    public record Item(String question, String answer, String reference) {
        public Item {
            Objects.requireNonNull(question, "question");
            Objects.requireNonNull(answer, "answer");
        }

        public Item(String question, String answer) {
            this(question, answer, null);
        }
    }

    /**
     * Agreement of judge and human ratings over the items where both exist.
     *
     * @param pairs items with both a usable judge rating and a human rating
     * @param pearson Pearson's r; NaN with fewer than 2 pairs or when either side is constant
     * @param spearman Spearman's rho (ties share their mean rank); NaN likewise
     */
    public record Agreement(int pairs, double pearson, double spearman) {}

    private final JudgeModel model;

    public LlmJudge(JudgeModel model) {
        this.model = Objects.requireNonNull(model, "model");
    }

    public JudgeVerdict judge(String question, String answer) {
        return judge(new Item(question, answer));
    }

    /** @param reference an expert answer to compare with, or null */
    public JudgeVerdict judge(String question, String answer, String reference) {
        return judge(new Item(question, answer, reference));
    }

    public JudgeVerdict judge(Item item) {
        String reply =
                model.complete(JudgePrompt.SYSTEM, JudgePrompt.user(item.question(), item.answer(), item.reference()));
        return JudgeParser.parse(reply);
    }

    /** Judges the items in order, logging progress about ten times per run and a summary at the end. */
    public List<JudgeVerdict> judgeAll(List<Item> items) {
        int n = items.size();
        List<JudgeVerdict> verdicts = new ArrayList<>(n);
        int step = Math.max(1, n / 10);
        int unrated = 0;
        long start = System.nanoTime();
        LOG.info("judging {} answers with {}", n, model);
        for (int i = 0; i < n; i++) {
            JudgeVerdict v = judge(items.get(i));
            verdicts.add(v);
            if (!v.isRated()) {
                unrated++;
                LOG.debug("item {}: {} (stated {})", i, v.status(), v.statedRating());
            }
            if ((i + 1) % step == 0 || i + 1 == n) {
                double secs = (System.nanoTime() - start) / 1e9;
                LOG.info(
                        "judged {}/{} ({} s, {} s/answer), {} without a usable rating",
                        i + 1,
                        n,
                        Math.round(secs),
                        String.format(Locale.ROOT, "%.2f", secs / (i + 1)),
                        unrated);
            }
        }
        return verdicts;
    }

    /**
     * Pearson and Spearman correlation between the usable judge ratings and human ratings.
     *
     * @param humanRatings one per verdict, in the same order; NaN where an item has none
     */
    public static Agreement agreement(List<JudgeVerdict> verdicts, double[] humanRatings) {
        if (verdicts.size() != humanRatings.length) {
            throw new IllegalArgumentException(
                    verdicts.size() + " verdicts but " + humanRatings.length + " human ratings");
        }
        double[] judge = new double[verdicts.size()];
        double[] human = new double[verdicts.size()];
        int k = 0;
        for (int i = 0; i < verdicts.size(); i++) {
            JudgeVerdict v = verdicts.get(i);
            if (v.isRated() && !Double.isNaN(humanRatings[i])) {
                judge[k] = v.rating().getAsDouble();
                human[k] = humanRatings[i];
                k++;
            }
        }
        if (k < 2) {
            return new Agreement(k, Double.NaN, Double.NaN);
        }
        double[] j = Arrays.copyOf(judge, k);
        double[] h = Arrays.copyOf(human, k);
        return new Agreement(k, Correlation.pearson(j, h), Correlation.spearman(j, h));
    }
}
