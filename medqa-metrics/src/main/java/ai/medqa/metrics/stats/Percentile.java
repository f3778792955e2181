package ai.medqa.metrics.stats;

import java.util.Arrays;

/** numpy's {@code np.percentile(a, q)} with its default 'linear' method. */
public final class Percentile {
    private Percentile() {}

    /** @param q percent in [0, 100] */
    public static double of(double[] values, double q) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return ofSorted(sorted, q);
    }

    public static double ofSorted(double[] sorted, double q) {
        if (sorted.length == 0) {
            throw new IllegalArgumentException("percentile of an empty array");
        }
        if (q < 0 || q > 100) {
            throw new IllegalArgumentException("Percentiles must be in the range [0, 100]: " + q);
        }
        double index = q / 100 * (sorted.length - 1);
        int lo = (int) Math.floor(index);
        int hi = Math.min(lo + 1, sorted.length - 1);
        double t = index - lo;
        double a = sorted[lo];
        double b = sorted[hi];
        // numpy's _lerp: a + (b-a)t, computed from the upper end when t >= 0.5.
        double diff = b - a;
        return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
    }
}
