package ai.medqa.metrics.stats;

/**
 * Aggregate of one metric over samples: mean, sample standard deviation (n-1, as pandas'
 * {@code describe()}; 0 for one sample) and a percentile-bootstrap interval of the mean.
 */
public record Summary(int n, double mean, double std, double ciLow, double ciHigh, double confidence) {

    /** 95% interval from 1,000 resamples of a numpy-compatible generator seeded with {@code seed}. */
    public static Summary of(double[] values, long seed) {
        return of(values, 0.95, 1000, seed);
    }

    public static Summary of(double[] values, double confidence, int resamples, long seed) {
        int n = values.length;
        if (n == 0) {
            throw new IllegalArgumentException("summary of no values");
        }
        double sum = 0;
        for (double v : values) {
            sum += v;
        }
        double mean = sum / n;
        double ss = 0;
        for (double v : values) {
            ss += (v - mean) * (v - mean);
        }
        double std = n > 1 ? Math.sqrt(ss / (n - 1)) : 0.0;
        Bootstrap.Interval ci = new Bootstrap(confidence, resamples).resample(values, new NumpyRandom(seed));
        return new Summary(n, mean, std, ci.low(), ci.high(), confidence);
    }
}
