package ai.medqa.metrics.judge;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.metrics.judge.JudgeVerdict.Status;
import java.util.List;
import java.util.OptionalDouble;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Judge replies of the kinds chat and completion models really produce, and what we read from them. */
class JudgeParserTest {

    /** name, reply, status, stated rating (null = none), a fragment the feedback must contain, one it must not. */
    static Stream<Arguments> replies() {
        return Stream.of(
                // --- well-formed ---
                c("canonical chat reply", """
                        Feedback:::
                        Evaluation: The answer correctly states that metformin is first-line therapy and explains why.
                        Total rating: 4""", Status.OK, 4.0, "metformin is first-line therapy", "Total rating"),
                c(
                        "completion after the primer (no labels before the rationale)",
                        """
                         The system_answer is mostly helpful: it names the main risk factors for preeclampsia \
                        but omits prior history.
                        Total rating: 3""",
                        Status.OK,
                        3.0,
                        "names the main risk factors",
                        "Total"),
                c(
                        "cookbook row 5375",
                        "The system_answer is mostly helpful: provides support, but still could be improved. "
                                + "The answer does provide a list of symptoms associated with Covid-19, but it also includes a lot "
                                + "of information that is not directly related to the question.\nTotal rating: 3",
                        Status.OK,
                        3.0,
                        "list of symptoms",
                        null),
                c(
                        "two spaces after the label (cookbook row 2026)",
                        "The system_answer only explains what quarantine is.\n" + "Total rating:  2",
                        Status.OK,
                        2.0,
                        "what quarantine is",
                        null),
                c(
                        "lower-case labels",
                        "feedback:::\nevaluation: vague, no dosage given.\ntotal rating: 2",
                        Status.OK,
                        2.0,
                        "no dosage given",
                        null),
                c(
                        "upper-case labels",
                        "EVALUATION: Irrelevant; discusses asthma instead of COPD.\nTOTAL RATING: 1",
                        Status.OK,
                        1.0,
                        "instead of COPD",
                        null),
                c(
                        "no space after the colon",
                        "Evaluation: Accurate and complete.\nTotal rating:4",
                        Status.OK,
                        4.0,
                        "Accurate and complete",
                        null),
                // --- markdown ---
                c("bold labels", """
                        **Feedback:::**
                        **Evaluation:** The answer addresses the mechanism of beta-blockers in heart failure.
                        **Total rating:** 4""", Status.OK, 4.0, "mechanism of beta-blockers", "**"),
                c(
                        "bold label with the colon outside",
                        "**Evaluation**: Partially correct.\n**Total rating**: 2",
                        Status.OK,
                        2.0,
                        "Partially correct",
                        null),
                c(
                        "bold number",
                        "Evaluation: Good, but cites no trial.\nTotal rating: **3**",
                        Status.OK,
                        3.0,
                        "cites no trial",
                        null),
                c("markdown heading and list", """
                        # Feedback
                        - Evaluation: The answer is correct that PSA screening is controversial, but does not say for whom.
                        - Total rating: 3""", Status.OK, 3.0, "PSA screening is controversial", null),
                c(
                        "label alone on its line, number on the next",
                        "Evaluation: Clear and relevant.\nTotal rating:\n\n**4**",
                        Status.OK,
                        4.0,
                        "Clear and relevant",
                        null),
                // --- decimals and number formats ---
                c(
                        "decimal rating",
                        "Evaluation: Between mostly helpful and excellent.\nTotal rating: 3.5",
                        Status.OK,
                        3.5,
                        "mostly helpful and excellent",
                        null),
                c(
                        "rating with scale suffix",
                        "Evaluation: Complete.\nTotal rating: 4/4",
                        Status.OK,
                        4.0,
                        "Complete",
                        null),
                c(
                        "rating written as 'x out of 4'",
                        "Evaluation: Misses contraindications.\nTotal rating: 2 out of 4",
                        Status.OK,
                        2.0,
                        "contraindications",
                        null),
                c(
                        "words before the number on the label's line",
                        "Evaluation: Mostly fine.\nTotal rating: I would give it a 3.",
                        Status.OK,
                        3.0,
                        "Mostly fine",
                        null),
                c("rating in brackets", "Evaluation: Off-topic.\nTotal rating: [1]", Status.OK, 1.0, "Off-topic", null),
                // --- extra text around the format ---
                c("preamble and closing remarks", """
                        Sure! Here is my assessment.

                        Feedback:::
                        Evaluation: The answer correctly identifies hypokalemia as a side effect of loop diuretics.
                        Total rating: 4

                        Let me know if you need anything else.""", Status.OK, 4.0, "hypokalemia", "Let me know"),
                c("rating first, then the rationale", """
                        Feedback:::
                        Total rating: 2
                        Evaluation: The answer confuses type 1 and type 2 diabetes.""", Status.OK, 2.0, "confuses type 1 and type 2", null),
                c(
                        "several blocks: the first counts (cookbook row 1976)",
                        """
                         The system_answer is mostly not helpful. The user asked about helping people that are grieving.
                        Total rating:  2


                        Feedback:::
                        Evaluation:  The system_answer is mostly helpful.
                        Total rating:  3


                        Feedback:::
                        Evaluation:  The system_answer is excellent.
                        Total rating:  4""",
                        Status.OK,
                        2.0,
                        "mostly not helpful",
                        "excellent"),
                c(
                        "template echoed before the real answer",
                        """
                        Feedback:::
                        Evaluation: (your rationale for the rating, as a text)
                        Total rating: (your rating, as a number between 1 and 4)

                        Feedback:::
                        Evaluation: Correct dose and route for epinephrine in anaphylaxis.
                        Total rating: 4""",
                        Status.OK,
                        4.0,
                        "epinephrine in anaphylaxis",
                        "your rationale"),
                c(
                        "numbers in the rationale are not the rating",
                        "Evaluation: Cites a 2019 meta-analysis of 12 trials.\n" + "Total rating: 3",
                        Status.OK,
                        3.0,
                        "meta-analysis of 12 trials",
                        null),
                // --- missing rating ---
                c(
                        "no rating at all",
                        "Feedback:::\nEvaluation: The answer is accurate but very short.",
                        Status.MISSING_RATING,
                        null,
                        "accurate but very short",
                        null),
                c(
                        "truncated by max_tokens before the number",
                        "Evaluation: The answer lists 3 causes of anemia.\nTotal rating:",
                        Status.MISSING_RATING,
                        null,
                        "lists 3 causes of anemia",
                        null),
                c(
                        "rating in words",
                        "Evaluation: Good.\nTotal rating: four",
                        Status.MISSING_RATING,
                        null,
                        "Good",
                        null),
                c(
                        "other label than Total rating",
                        "Evaluation: Good answer overall.\nRating: 4\nScore: 4/4",
                        Status.MISSING_RATING,
                        null,
                        "Good answer overall",
                        null),
                c(
                        "number only in the rationale, never after the label",
                        "Evaluation: Cites 2 RCTs.\nTotal rating: N/A",
                        Status.MISSING_RATING,
                        null,
                        "Cites 2 RCTs",
                        null),
                c(
                        "refusal",
                        "I'm sorry, but I can't evaluate medical advice.",
                        Status.MISSING_RATING,
                        null,
                        "I'm sorry",
                        null),
                c("empty reply", "", Status.MISSING_RATING, null, "", null),
                // --- out of range ---
                c(
                        "five on a 1-4 scale",
                        "Evaluation: Perfect answer.\nTotal rating: 5",
                        Status.OUT_OF_RANGE,
                        5.0,
                        "Perfect answer",
                        null),
                c(
                        "zero",
                        "Evaluation: Dangerous advice.\nTotal rating: 0",
                        Status.OUT_OF_RANGE,
                        0.0,
                        "Dangerous advice",
                        null),
                c(
                        "ten-point habit",
                        "Evaluation: Very good.\nTotal rating: 8/10",
                        Status.OUT_OF_RANGE,
                        8.0,
                        "Very good",
                        null),
                c("negative", "Evaluation: Harmful.\nTotal rating: -1", Status.OUT_OF_RANGE, -1.0, "Harmful", null),
                c(
                        "just above the top",
                        "Evaluation: Excellent.\nTotal rating: 4.5",
                        Status.OUT_OF_RANGE,
                        4.5,
                        "Excellent",
                        null));
    }

    private static Arguments c(
            String name, String reply, Status status, Double stated, String feedbackHas, String feedbackLacks) {
        return Arguments.of(name, reply, status, stated, feedbackHas, feedbackLacks);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("replies")
    void readsTheRatingAndTheFeedback(
            String name, String reply, Status status, Double stated, String feedbackHas, String feedbackLacks) {
        JudgeVerdict v = JudgeParser.parse(reply);
        assertThat(v.status()).as("status").isEqualTo(status);
        assertThat(v.statedRating())
                .as("stated rating")
                .isEqualTo(stated == null ? OptionalDouble.empty() : OptionalDouble.of(stated));
        assertThat(v.rating())
                .as("usable rating")
                .isEqualTo(status == Status.OK ? OptionalDouble.of(stated) : OptionalDouble.empty());
        assertThat(v.feedback()).as("feedback").contains(feedbackHas);
        if (feedbackLacks != null) {
            assertThat(v.feedback()).as("feedback").doesNotContain(feedbackLacks);
        }
        assertThat(v.rawOutput()).isEqualTo(reply);
    }

    @Test
    void atLeastTwentyRealLookingReplies() {
        assertThat(replies().count()).isGreaterThanOrEqualTo(20);
        List<Status> kinds = replies().map(a -> (Status) a.get()[2]).distinct().toList();
        assertThat(kinds).containsExactlyInAnyOrder(Status.values());
    }

    @Test
    void feedbackIsTrimmedOfLabelsAndEmphasis() {
        JudgeVerdict v =
                JudgeParser.parse("Feedback:::\n**Evaluation:**  Clear, sourced answer.  \n**Total rating:** 4");
        assertThat(v.feedback()).isEqualTo("Clear, sourced answer.");
        assertThat(JudgeParser.parse(" Concise and right.\nTotal rating: 4").feedback())
                .isEqualTo("Concise and right.");
    }

    @Test
    void anotherScale() {
        assertThat(JudgeParser.parse("Total rating: 8", 0, 10).status()).isEqualTo(Status.OK);
        assertThat(JudgeParser.parse("Total rating: 11", 0, 10).status()).isEqualTo(Status.OUT_OF_RANGE);
        assertThat(JudgeParser.parse(null).status()).isEqualTo(Status.MISSING_RATING);
    }
}
