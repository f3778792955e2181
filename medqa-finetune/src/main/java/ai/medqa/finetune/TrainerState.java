package ai.medqa.finetune;

import java.util.List;

/**
 * Where a run stands, saved with every checkpoint ({@code trainer_state.json}): enough, with the
 * adapter and the optimizer moments, to continue exactly where it stopped.
 *
 * @param step optimizer steps done
 * @param epoch the epoch in progress (from 0)
 * @param position training examples of that epoch already consumed (in the epoch's shuffled order)
 * @param initialEvalLoss the held-out loss before the first step (NaN without evaluation)
 * @param fingerprint the settings and data a resumed run must share with this one
 */
record TrainerState(
        long step,
        int epoch,
        int position,
        double elapsedSeconds,
        long tokensSeen,
        double initialEvalLoss,
        double bestEvalLoss,
        int evalsWithoutImprovement,
        boolean stoppedEarly,
        String fingerprint,
        List<StepStats> history) {
    TrainerState {
        history = List.copyOf(history);
    }
}
