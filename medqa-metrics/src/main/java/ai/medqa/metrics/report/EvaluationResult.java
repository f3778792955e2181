package ai.medqa.metrics.report;

import ai.medqa.metrics.stats.Summary;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An evaluation: per-sample rows and, per metric, mean, std and a 95% bootstrap interval.
 *
 * @param name what was evaluated (model, data set), shown in reports
 * @param rows one per sample: an id, free-text fields (question, candidate, ...) and metric values
 * @param aggregates per metric, in the order metrics first appear in the rows
 * @param seed the bootstrap seed, so that a report can be reproduced
 */
public record EvaluationResult(String name, List<Row> rows, Map<String, Summary> aggregates, long seed) {

    /** One sample. {@code fields} keep their order; {@code metrics} too. */
    public record Row(String id, Map<String, String> fields, Map<String, Double> metrics) {
        public Row {
            fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
            metrics = Collections.unmodifiableMap(new LinkedHashMap<>(metrics));
        }
    }

    public EvaluationResult {
        rows = List.copyOf(rows);
        aggregates = Collections.unmodifiableMap(new LinkedHashMap<>(aggregates));
    }

    /**
     * Aggregates every metric over the rows that have it (NaN values are skipped) with a
     * numpy-compatible bootstrap seeded with {@code seed}.
     */
    public static EvaluationResult of(String name, List<Row> rows, long seed) {
        Map<String, Summary> aggregates = new LinkedHashMap<>();
        for (String metric : metricNames(rows)) {
            List<Double> values = new ArrayList<>();
            for (Row r : rows) {
                Double v = r.metrics().get(metric);
                if (v != null && !v.isNaN()) {
                    values.add(v);
                }
            }
            if (!values.isEmpty()) {
                aggregates.put(
                        metric,
                        Summary.of(
                                values.stream().mapToDouble(Double::doubleValue).toArray(), seed));
            }
        }
        return new EvaluationResult(name, rows, aggregates, seed);
    }

    /** Metric names in first-appearance order. */
    public static List<String> metricNames(List<Row> rows) {
        Set<String> names = new LinkedHashSet<>();
        for (Row r : rows) {
            names.addAll(r.metrics().keySet());
        }
        return new ArrayList<>(names);
    }

    /** Field names in first-appearance order. */
    public static List<String> fieldNames(List<Row> rows) {
        Set<String> names = new LinkedHashSet<>();
        for (Row r : rows) {
            names.addAll(r.fields().keySet());
        }
        return new ArrayList<>(names);
    }
}
