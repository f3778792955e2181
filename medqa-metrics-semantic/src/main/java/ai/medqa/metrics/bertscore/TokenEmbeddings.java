package ai.medqa.metrics.bertscore;

/**
 * One text's contextual embeddings from one encoder layer.
 *
 * @param ids the word-piece ids fed to the encoder, special tokens included ({@code [CLS] ... [SEP]}
 *     or {@code <s> ... </s>}), after any truncation
 * @param vectors {@code [ids.length][hidden]}, row {@code i} belongs to {@code ids[i]}
 * @param droppedTokens how many word pieces were cut because the text exceeded the model's positions
 *     (0 for almost every text; see {@link BertEncoder#encode})
 */
public record TokenEmbeddings(int[] ids, float[][] vectors, int droppedTokens) {}
