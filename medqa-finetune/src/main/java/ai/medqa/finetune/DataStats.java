package ai.medqa.finetune;

/**
 * What tokenization did to a data set.
 *
 * @param examples examples kept
 * @param truncated examples longer than {@code max-len} that were shortened (contexts first, then the
 *     prompt's beginning, the answer last)
 * @param answerTruncated of those, examples whose answer itself had to be cut (the prompt alone is
 *     kept to at least a quarter of {@code max-len})
 * @param tokens all tokens, prompts included
 * @param targetTokens tokens the loss is computed on (completions and their EOS)
 * @param longest the longest example after truncation, in tokens
 */
public record DataStats(int examples, int truncated, int answerTruncated, long tokens, long targetTokens, int longest) {
    @Override
    public String toString() {
        return examples + " examples, " + tokens + " tokens (" + targetTokens + " in completions), longest " + longest
                + ", " + truncated + " truncated (" + answerTruncated + " with the answer cut)";
    }
}
