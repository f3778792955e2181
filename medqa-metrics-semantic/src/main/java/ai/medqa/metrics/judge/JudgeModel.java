package ai.medqa.metrics.judge;

/**
 * The language model behind an {@link LlmJudge}: one system prompt and one user message in, the
 * model's reply out.
 *
 * <p>This small seam keeps medqa-metrics independent of medqa-core: a local MedQA model implements it
 * in the application (see the {@code medqa judge} command), a remote one through
 * {@link OpenAiChatModel}. Implementations report failures as unchecked exceptions.
 */
@FunctionalInterface
public interface JudgeModel {
    /**
     * @param systemPrompt the judge's standing instructions (the rubric); may be empty
     * @param userPrompt the item to judge
     * @return the model's reply, as text
     */
    String complete(String systemPrompt, String userPrompt);
}
