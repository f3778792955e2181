package ai.medqa.finetune;

/**
 * One optimizer step, as logged and written to {@code loss.csv}.
 *
 * @param step optimizer steps done, from 1
 * @param totalSteps steps the run will take (unless it stops early)
 * @param epoch fractional epoch reached (1.0 = the training set seen once)
 * @param loss mean cross-entropy over the step's completion tokens (all accumulated micro-batches)
 * @param evalLoss held-out loss measured after this step, or NaN if none was measured
 * @param learningRate the rate this step used
 * @param gradNorm the gradients' global 2-norm before clipping
 * @param tokens tokens processed (prompts included, padding excluded)
 * @param tokensPerSecond this step's throughput
 * @param elapsedSeconds training time so far (the time before a resume included)
 * @param etaSeconds estimated time to the last step
 */
public record StepStats(
        long step,
        long totalSteps,
        double epoch,
        double loss,
        double evalLoss,
        double learningRate,
        double gradNorm,
        long tokens,
        double tokensPerSecond,
        double elapsedSeconds,
        double etaSeconds) {}
