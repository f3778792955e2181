package ai.medqa.finetune;

/**
 * Learning-rate schedules, as transformers' {@code get_scheduler} defines them: a linear warm-up from
 * 0 over {@code warmup} optimizer steps, then the decay. The rate used by optimizer step {@code s}
 * (counted from 0) is {@code lr * factor(s)}.
 */
public enum Schedule {
    /** {@code get_linear_schedule_with_warmup}: down to 0 at the last step. */
    LINEAR,
    /** {@code get_cosine_schedule_with_warmup} (half a cosine wave): down to 0 at the last step. */
    COSINE,
    /** {@code get_constant_schedule_with_warmup}. */
    CONSTANT;

    /** The factor on the peak rate at optimizer step {@code step} of {@code total}. */
    public double factor(long step, long warmup, long total) {
        if (step < warmup) {
            return (double) step / Math.max(1, warmup);
        }
        double progress = (double) (step - warmup) / Math.max(1, total - warmup);
        return switch (this) {
            case LINEAR -> Math.max(0.0, (double) (total - step) / Math.max(1, total - warmup));
            case COSINE -> Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * progress)));
            case CONSTANT -> 1.0;
        };
    }
}
