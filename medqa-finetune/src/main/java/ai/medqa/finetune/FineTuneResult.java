package ai.medqa.finetune;

import java.nio.file.Path;
import java.util.List;

/**
 * What a run did.
 *
 * @param steps optimizer steps done in total (a resumed run counts the steps before the resume)
 * @param trainLoss the last step's loss
 * @param initialEvalLoss the held-out loss before training (the base model's), NaN if evaluation was off
 * @param evalLoss the last held-out loss measured, NaN if evaluation was off
 * @param bestEvalLoss the lowest held-out loss measured (its adapter is in {@code out/best}), NaN if none
 * @param stoppedEarly whether early stopping ended the run
 * @param adapterDir the final adapter (PEFT format): {@code out} itself
 * @param train tokenization figures of the training set
 * @param eval tokenization figures of the held-out fold, null if there is none
 * @param heldOutTestQuestions PubMedQA official-test questions left out of the data
 * @param history every step, as in {@code loss.csv}
 */
public record FineTuneResult(
        long steps,
        double trainLoss,
        double initialEvalLoss,
        double evalLoss,
        double bestEvalLoss,
        boolean stoppedEarly,
        Path adapterDir,
        DataStats train,
        DataStats eval,
        int heldOutTestQuestions,
        double seconds,
        List<StepStats> history) {
    public FineTuneResult {
        history = List.copyOf(history);
    }

    /** Training throughput over the whole run (tokens processed, prompts included, per second). */
    public double tokensPerSecond() {
        long tokens = history.stream().mapToLong(StepStats::tokens).sum();
        return seconds > 0 ? tokens / seconds : 0;
    }
}
