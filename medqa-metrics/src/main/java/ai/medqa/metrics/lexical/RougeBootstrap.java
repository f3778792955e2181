package ai.medqa.metrics.lexical;

import ai.medqa.metrics.stats.Bootstrap;
import ai.medqa.metrics.stats.NumpyRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * rouge-score's {@code BootstrapAggregator}: low, mid and high of precision, recall and F per type
 * over many scored pairs. {@link #aggregate(List, long)} gives the numbers rouge-score gives after
 * {@code np.random.seed(seed)}; types are resampled in the order they first appear, continuing one
 * random stream, as rouge-score does.
 */
public final class RougeBootstrap {
    /** rouge-score's {@code AggregateScore}. */
    public record Aggregate(RougeScore low, RougeScore mid, RougeScore high) {}

    private RougeBootstrap() {}

    /** 95% interval, 1,000 resamples. */
    public static Map<String, Aggregate> aggregate(List<Map<String, RougeScore>> scores, long seed) {
        return aggregate(scores, 0.95, 1000, seed);
    }

    public static Map<String, Aggregate> aggregate(
            List<Map<String, RougeScore>> scores, double confidenceInterval, int nSamples, long seed) {
        Map<String, List<RougeScore>> byType = new LinkedHashMap<>();
        for (Map<String, RougeScore> s : scores) {
            for (Map.Entry<String, RougeScore> e : s.entrySet()) {
                byType.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getValue());
            }
        }
        NumpyRandom random = new NumpyRandom(seed);
        Bootstrap bootstrap = new Bootstrap(confidenceInterval, nSamples);
        Map<String, Aggregate> result = new LinkedHashMap<>();
        for (Map.Entry<String, List<RougeScore>> e : byType.entrySet()) {
            List<RougeScore> list = e.getValue();
            double[][] matrix = new double[list.size()][];
            for (int i = 0; i < matrix.length; i++) {
                RougeScore s = list.get(i);
                matrix[i] = new double[] {s.precision(), s.recall(), s.fmeasure()};
            }
            Bootstrap.Interval[] iv = bootstrap.resample(matrix, random);
            result.put(
                    e.getKey(),
                    new Aggregate(
                            new RougeScore(iv[0].low(), iv[1].low(), iv[2].low()),
                            new RougeScore(iv[0].mid(), iv[1].mid(), iv[2].mid()),
                            new RougeScore(iv[0].high(), iv[1].high(), iv[2].high())));
        }
        return result;
    }
}
