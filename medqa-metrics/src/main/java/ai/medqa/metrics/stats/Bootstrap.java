package ai.medqa.metrics.stats;

import java.util.Arrays;

/**
 * Percentile bootstrap of the mean, drawing indices exactly as rouge-score's
 * {@code BootstrapAggregator} does after {@code np.random.seed(seed)}: {@code nSamples} resamples,
 * each {@code np.random.choice(n, n)}, the mean of each column, then the percentiles
 * {@code (1-ci)/2}, 50 and {@code 1-(1-ci)/2} of those means.
 */
public final class Bootstrap {
    /** rouge-score's {@code AggregateScore} for one column. */
    public record Interval(double low, double mid, double high) {}

    private final double confidenceInterval;
    private final int nSamples;

    /** rouge-score's defaults: 95% and 1,000 resamples. */
    public Bootstrap() {
        this(0.95, 1000);
    }

    public Bootstrap(double confidenceInterval, int nSamples) {
        if (confidenceInterval < 0 || confidenceInterval > 1) {
            throw new IllegalArgumentException("confidence_interval must be in range [0, 1]");
        }
        if (nSamples <= 0) {
            throw new IllegalArgumentException("n_samples must be positive");
        }
        this.confidenceInterval = confidenceInterval;
        this.nSamples = nSamples;
    }

    /**
     * Resamples the rows of {@code matrix} ([sample][measure]) and returns one interval per column.
     * Consumes {@code nSamples * rows} draws from {@code random}, so successive calls continue the
     * stream as successive score types do in rouge-score.
     */
    public Interval[] resample(double[][] matrix, NumpyRandom random) {
        int rows = matrix.length;
        if (rows == 0) {
            throw new IllegalArgumentException("bootstrap of no samples");
        }
        int cols = matrix[0].length;
        double[][] means = new double[cols][nSamples];
        double[] sum = new double[cols];
        for (int s = 0; s < nSamples; s++) {
            Arrays.fill(sum, 0.0);
            for (int i = 0; i < rows; i++) {
                double[] row = matrix[random.randint(rows)];
                for (int c = 0; c < cols; c++) {
                    sum[c] += row[c];
                }
            }
            for (int c = 0; c < cols; c++) {
                means[c][s] = sum[c] / rows;
            }
        }
        double delta = (1 - confidenceInterval) / 2;
        Interval[] out = new Interval[cols];
        for (int c = 0; c < cols; c++) {
            double[] sorted = means[c];
            Arrays.sort(sorted);
            out[c] = new Interval(
                    Percentile.ofSorted(sorted, 100 * delta),
                    Percentile.ofSorted(sorted, 100 * 0.5),
                    Percentile.ofSorted(sorted, 100 * (1 - delta)));
        }
        return out;
    }

    /** The interval of the mean of one column of values. */
    public Interval resample(double[] values, NumpyRandom random) {
        double[][] m = new double[values.length][1];
        for (int i = 0; i < values.length; i++) {
            m[i][0] = values[i];
        }
        return resample(m, random)[0];
    }
}
