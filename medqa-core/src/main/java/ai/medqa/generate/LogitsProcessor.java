package ai.medqa.generate;

/**
 * One step of Hugging Face's logits processing, working in place on one row of next-token logits.
 * Filtered tokens are set to {@code Float.NEGATIVE_INFINITY}, as transformers' {@code filter_value}.
 */
@FunctionalInterface
interface LogitsProcessor {
    /**
     * @param prevIds the ids seen so far (prompt and generated); only the first {@code prevLen} count
     * @param logits  one score per vocabulary id, rewritten in place
     */
    void process(int[] prevIds, int prevLen, float[] logits);
}
