package ai.medqa.finetune;

import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import java.util.List;
import java.util.Objects;

/**
 * One training example before formatting: a question (or a free prompt), optional context passages
 * and the completion the model should learn to write.
 *
 * @param id where the example came from (a PubMed id, a line number), for messages
 * @param prompt the question or prompt text, as the user wrote it
 * @param contexts passages a template may put before the question (PubMedQA's abstract); may be empty
 * @param completion the text the loss is computed on
 */
public record Example(String id, String prompt, List<String> contexts, String completion) {
    public Example {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(completion, "completion");
        contexts = List.copyOf(contexts);
    }

    /** A prompt/completion pair (one line of a JSON Lines file). */
    public static Example pair(String id, String prompt, String completion) {
        return new Example(id, prompt, List.of(), completion);
    }

    /** PubMedQA: question to long answer, as the seed fine-tuned; the abstract as contexts. */
    public static Example of(PubMedQaItem item) {
        return new Example(item.pmid(), item.question(), item.contexts(), item.longAnswer());
    }
}
