package ai.medqa.common;

/**
 * One way to derive independent seeds from a run's seed: SplitMix64's finalizer over
 * {@code a * golden-ratio + b}. Fine-tuning seeds its shuffles, dropout masks and per-layer
 * recomputation with it, so a resumed run draws what the uninterrupted one drew.
 */
public final class Seeds {
    private Seeds() {}

    /** A well-mixed 64-bit seed from {@code a} (the run's seed) and {@code b} (a step, a layer, a purpose). */
    public static long mix(long a, long b) {
        long z = a * 0x9E3779B97F4A7C15L + b + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
