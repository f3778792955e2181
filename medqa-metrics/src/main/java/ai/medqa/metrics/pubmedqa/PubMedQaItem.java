package ai.medqa.metrics.pubmedqa;

import java.util.List;

/**
 * One PubMedQA question.
 *
 * @param pmid the PubMed id (the key in {@code ori_pqal.json}, {@code pubid} in Hugging Face's copy)
 * @param contexts the abstract's paragraphs without its conclusion
 * @param longAnswer the abstract's conclusion, the reference for generated answers
 * @param finalDecision the expert label
 */
public record PubMedQaItem(
        String pmid, String question, List<String> contexts, String longAnswer, PubMedQaLabel finalDecision) {
    public PubMedQaItem {
        contexts = List.copyOf(contexts);
    }
}
