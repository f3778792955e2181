package ai.medqa.metrics.judge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.metrics.stats.Correlation;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LlmJudgeTest {

    @Test
    void judgesEachItemWithTheRubricAndKeepsUnratedRepliesUnrated() {
        List<String> prompts = new ArrayList<>();
        JudgeModel model = (system, user) -> {
            assertThat(system).isEqualTo(JudgePrompt.SYSTEM);
            prompts.add(user);
            if (user.contains("Q3")) {
                return "Evaluation: I cannot decide.";
            }
            if (user.contains("Q4")) {
                return "Evaluation: Superb.\nTotal rating: 5";
            }
            return "Evaluation: ok\nTotal rating: " + (user.contains("Q1") ? "2" : "3.5");
        };
        List<JudgeVerdict> v = new LlmJudge(model)
                .judgeAll(List.of(
                        new LlmJudge.Item("Q1", "A1"), new LlmJudge.Item("Q2", "A2", "R2"),
                        new LlmJudge.Item("Q3", "A3"), new LlmJudge.Item("Q4", "A4")));

        assertThat(v)
                .extracting(JudgeVerdict::status)
                .containsExactly(
                        JudgeVerdict.Status.OK,
                        JudgeVerdict.Status.OK,
                        JudgeVerdict.Status.MISSING_RATING,
                        JudgeVerdict.Status.OUT_OF_RANGE);
        assertThat(v.get(1).rating().getAsDouble()).isEqualTo(3.5);
        assertThat(v.get(3).rating()).isEmpty();
        assertThat(v.get(3).statedRating().getAsDouble()).isEqualTo(5.0);
        assertThat(prompts.get(1)).contains("R2");
        assertThat(prompts.get(0)).doesNotContain("Reference answer");
    }

    @Test
    void agreementUsesOnlyItemsRatedByBothSides() {
        List<JudgeVerdict> v = new ArrayList<>();
        double[] judge = {1, 2, 2, 3, 4, 4, 3};
        for (double r : judge) {
            v.add(JudgeParser.parse("Total rating: " + r));
        }
        v.add(JudgeParser.parse("no rating here"));
        v.add(JudgeParser.parse("Total rating: 9"));
        v.add(JudgeParser.parse("Total rating: 2"));
        double[] human = {1, 3, 2, 3, 4, 3, 4, 4, 1, Double.NaN};

        LlmJudge.Agreement a = LlmJudge.agreement(v, human);

        double[] h = {1, 3, 2, 3, 4, 3, 4};
        assertThat(a.pairs()).isEqualTo(7);
        assertThat(a.pearson()).isCloseTo(Correlation.pearson(judge, h), within(1e-12));
        assertThat(a.spearman()).isCloseTo(Correlation.spearman(judge, h), within(1e-12));
        assertThat(a.pearson()).isBetween(0.5, 1.0);
    }

    @Test
    void tooFewPairsGiveNaN() {
        LlmJudge.Agreement a = LlmJudge.agreement(List.of(JudgeParser.parse("Total rating: 3")), new double[] {3});
        assertThat(a.pairs()).isEqualTo(1);
        assertThat(a.pearson()).isNaN();
        assertThat(a.spearman()).isNaN();
    }
}
