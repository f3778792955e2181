package ai.medqa.metrics.judge;

import java.util.Objects;

/**
 * The seed's judge prompt: the "improved judge prompt" of Hugging Face's cookbook <i>Using
 * LLM-as-a-judge for an automated and versatile evaluation</i> (A. Roucher), a 1-4 scale with an
 * {@code Evaluation:} field before the {@code Total rating:} so the model reasons before it rates.
 *
 * <p>The cookbook sends it as one prompt; here it is split at "Now here are the question and answer."
 * into the fixed rubric ({@link #SYSTEM}) and the per-item part ({@link #user}). Joined by a blank
 * line they are the cookbook's text, word for word, so chat endpoints get a proper system message and
 * a plain-text model ({@code [INST] system\n\nuser [/INST]}) sees exactly the original.
 */
public final class JudgePrompt {
    /** The lowest rating of the scale. */
    public static final int MIN_RATING = 1;
    /** The highest rating of the scale. */
    public static final int MAX_RATING = 4;

    /** The rubric and the answer format, unchanged from the cookbook. */
    public static final String SYSTEM = """
            You will be given a user_question and system_answer couple.
            Your task is to provide a 'total rating' scoring how well the system_answer answers the user concerns expressed in the user_question.
            Give your answer on a scale of 1 to 4, where 1 means that the system_answer is not helpful at all, and 4 means that the system_answer completely and helpfully addresses the user_question.

            Here is the scale you should use to build your answer:
            1: The system_answer is terrible: completely irrelevant to the question asked, or very partial
            2: The system_answer is mostly not helpful: misses some key aspects of the question
            3: The system_answer is mostly helpful: provides support, but still could be improved
            4: The system_answer is excellent: relevant, direct, detailed, and addresses all the concerns raised in the question

            Provide your feedback as follows:

            Feedback:::
            Evaluation: (your rationale for the rating, as a text)
            Total rating: (your rating, as a number between 1 and 4)

            You MUST provide values for 'Evaluation:' and 'Total rating:' in your answer.""";

    private JudgePrompt() {}

    /**
     * The per-item message: question, answer and, when given, a reference answer. The cookbook
     * recommends giving the judge a reference where one exists; it goes on its own line after the
     * answer, so without one the text is the cookbook's. The message ends with the cookbook's primer
     * {@code Feedback:::\nEvaluation: } (the "tip" sentence included: the cookbook measured it).
     *
     * @param reference a reference answer, or null
     */
    public static String user(String question, String answer, String reference) {
        Objects.requireNonNull(question, "question");
        Objects.requireNonNull(answer, "answer");
        StringBuilder sb = new StringBuilder()
                .append("Now here are the question and answer.\n\n")
                .append("Question: ")
                .append(question)
                .append('\n')
                .append("Answer: ")
                .append(answer)
                .append('\n');
        if (reference != null && !reference.isBlank()) {
            sb.append("Reference answer (written by an expert, for comparison): ")
                    .append(reference)
                    .append('\n');
        }
        return sb.append('\n')
                .append(
                        "Provide your feedback. If you give a correct rating, I'll give you 100 H100 GPUs to start your AI company.\n")
                .append("Feedback:::\n")
                .append("Evaluation: ")
                .toString();
    }
}
