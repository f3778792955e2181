package ai.medqa.eval;

import static ai.medqa.eval.Evaluation.PREDICTIONS_FILE;
import static ai.medqa.eval.Evaluation.REPORT_FILE;
import static ai.medqa.eval.Evaluation.SUMMARY_FILE;

import ai.medqa.common.Json;
import ai.medqa.eval.Evaluation.Comparison;
import ai.medqa.eval.Evaluation.ConfigSummary;
import ai.medqa.metrics.pubmedqa.Classification;
import ai.medqa.metrics.stats.Bootstrap;
import ai.medqa.metrics.stats.NumpyRandom;
import ai.medqa.metrics.stats.Percentile;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The numbers of a run folder's predictions and the files that show them: per configuration accuracy
 * and macro-F1 with 95% percentile-bootstrap intervals over questions in PMID order, each
 * configuration against the first (accuracy difference, McNemar), as {@code summary.json},
 * {@code report.md}, {@code summary.csv} and charts.
 */
final class EvaluationReport {
    private EvaluationReport() {}

    /** One configuration against the baseline, with the differences of the per-answer metrics. */
    private record Compared(Comparison comparison, Map<String, double[]> metricDifferences) {}

    /** {@link Evaluation#report}: the summaries of the predictions in {@code out}, with their files. */
    static List<ConfigSummary> write(Path out, int bootstrap, long seed) {
        Map<String, List<ObjectNode>> byConfig = RunLedger.byConfig(out);
        List<ConfigSummary> summaries = new ArrayList<>();
        byConfig.forEach((name, rows) -> summaries.add(summarize(name, rows, bootstrap, seed)));
        List<Compared> comparisons = compareToFirst(byConfig, bootstrap, seed);
        String constrain = RunLedger.constraint(out).label();
        RunLedger.writeAtomically(out.resolve(SUMMARY_FILE), json(summaries, comparisons, constrain, bootstrap, seed));
        RunLedger.writeAtomically(
                out.resolve(REPORT_FILE), markdown(summaries, comparisons, constrain, bootstrap, seed));
        RunLedger.writeAtomically(out.resolve("summary.csv"), csv(summaries));
        if (!summaries.isEmpty()) {
            charts(out, byConfig, summaries);
        }
        return summaries;
    }

    private static ConfigSummary summarize(String name, List<ObjectNode> lines, int bootstrap, long seed) {
        List<ObjectNode> rows = new ArrayList<>(lines);
        rows.sort(Comparator.comparing((ObjectNode r) -> numeric(r.get("pubid").asText()))
                .thenComparing(r -> r.get("pubid").asText()));
        List<String> truth = rows.stream().map(r -> r.get("label").asText()).toList();
        List<String> predicted =
                rows.stream().map(r -> r.get("prediction").asText()).toList();
        Classification c = Classification.evaluate(truth, predicted);
        double[][] ci = bootstrap(truth, predicted, bootstrap, seed);
        int truncated = (int) rows.stream()
                .filter(r -> r.path("truncated_contexts").asInt() > 0)
                .count();
        boolean generated = rows.get(0).has("answer");
        Map<String, double[]> metrics = new LinkedHashMap<>();
        if (generated) {
            for (String field : metricFields(rows)) {
                double[] values = rows.stream()
                        .filter(r -> r.has(field))
                        .mapToDouble(r -> r.get(field).asDouble())
                        .toArray();
                double[] mci = meanInterval(values, bootstrap, seed);
                metrics.put(field, new double[] {Arrays.stream(values).average().orElse(Double.NaN), mci[0], mci[1]});
            }
        }
        return new ConfigSummary(
                name,
                generated ? "generate" : "likelihood",
                rows.size(),
                c.accuracy(),
                ci[0],
                c.macroF1(),
                ci[1],
                truncated,
                metrics);
    }

    private static List<Compared> compareToFirst(Map<String, List<ObjectNode>> byConfig, int bootstrap, long seed) {
        List<Compared> out = new ArrayList<>();
        List<String> names = new ArrayList<>(byConfig.keySet());
        for (int i = 1; i < names.size(); i++) {
            Map<String, ObjectNode> first = byPubid(byConfig.get(names.get(0)));
            Map<String, ObjectNode> other = byPubid(byConfig.get(names.get(i)));
            Map<String, double[]> differences = new LinkedHashMap<>();
            if (first.values().iterator().next().has("answer")) {
                List<String> common = common(first, other);
                for (String field : metricFields(new ArrayList<>(first.values()))) {
                    double[] d = common.stream()
                            .filter(pid ->
                                    other.get(pid).has(field) && first.get(pid).has(field))
                            .mapToDouble(pid -> other.get(pid).get(field).asDouble()
                                    - first.get(pid).get(field).asDouble())
                            .toArray();
                    double[] dci = meanInterval(d, bootstrap, seed);
                    differences.put(
                            field, new double[] {Arrays.stream(d).average().orElse(Double.NaN), dci[0], dci[1]});
                }
            }
            out.add(new Compared(compare(first, other, names.get(i), names.get(0), bootstrap, seed), differences));
        }
        return out;
    }

    private static String json(
            List<ConfigSummary> summaries, List<Compared> comparisons, String constrain, int bootstrap, long seed) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("answer_constraint", constrain);
        ArrayNode configs = root.putArray("configs");
        for (ConfigSummary s : summaries) {
            ObjectNode c = configs.addObject();
            c.put("name", s.name());
            c.put("mode", s.mode());
            c.put("n", s.n());
            c.put("accuracy", s.accuracy());
            c.putArray("accuracy_ci95").add(s.accuracyCi95()[0]).add(s.accuracyCi95()[1]);
            c.put("macro_f1", s.macroF1());
            c.putArray("macro_f1_ci95").add(s.macroF1Ci95()[0]).add(s.macroF1Ci95()[1]);
            c.put("truncated_questions", s.truncatedQuestions());
            s.metrics().forEach((field, v) -> {
                c.put(field + "_mean", v[0]);
                c.putArray(field + "_ci95").add(v[1]).add(v[2]);
            });
        }
        ArrayNode array = root.putArray("comparisons");
        for (Compared compared : comparisons) {
            Comparison k = compared.comparison();
            ObjectNode cmp = array.addObject();
            cmp.put("baseline", k.baseline());
            cmp.put("config", k.config());
            cmp.put("n", k.n());
            cmp.put("accuracy_difference", k.accuracyDifference());
            cmp.putArray("accuracy_difference_ci95")
                    .add(k.accuracyDifferenceCi95()[0])
                    .add(k.accuracyDifferenceCi95()[1]);
            cmp.put("mcnemar_b", k.mcnemarB());
            cmp.put("mcnemar_c", k.mcnemarC());
            cmp.put("mcnemar_p", k.mcnemarP());
            compared.metricDifferences().forEach((field, d) -> {
                cmp.put(field + "_difference", d[0]);
                cmp.putArray(field + "_difference_ci95").add(d[1]).add(d[2]);
            });
        }
        root.put("bootstrap_resamples", bootstrap);
        root.put("seed", seed);
        return root.toPrettyString();
    }

    private static String markdown(
            List<ConfigSummary> summaries, List<Compared> comparisons, String constrain, int bootstrap, long seed) {
        StringBuilder md =
                new StringBuilder("# PubMedQA evaluation\n\n| configuration | mode | n | accuracy (95% CI) | "
                        + "macro-F1 (95% CI) | abstracts cut to fit |\n|---|---|---|---|---|---|\n");
        for (ConfigSummary s : summaries) {
            md.append(String.format(
                    Locale.ROOT,
                    "| %s | %s | %d | %s | %s | %d |%n",
                    s.name(),
                    s.mode(),
                    s.n(),
                    ConfigSummary.withInterval(s.accuracy(), s.accuracyCi95(), ""),
                    ConfigSummary.withInterval(s.macroF1(), s.macroF1Ci95(), ""),
                    s.truncatedQuestions()));
        }
        if (!comparisons.isEmpty()) {
            md.append("\n| comparison | n | accuracy difference (95% CI) | McNemar exact p |\n|---|---|---|---|\n");
        }
        for (Compared compared : comparisons) {
            Comparison k = compared.comparison();
            md.append(String.format(
                    Locale.ROOT,
                    "| %s vs %s | %d | %s | %.4f |%n",
                    k.config(),
                    k.baseline(),
                    k.n(),
                    k.accuracyDifferenceText(""),
                    k.mcnemarP()));
        }
        if (summaries.stream().anyMatch(s -> s.mode().equals("generate"))) {
            md.append(
                    constrain.equals("json")
                            ? "\nAnswers constrained to JSON {\"answer\": \"yes\"|\"no\"|\"maybe\", "
                                    + "\"explanation\": string} (--constrain json): the prediction is the answer field, the lexical metrics "
                                    + "score the explanation.\n"
                            : "\nAnswers in free text (--constrain none): AnswerExtractor reads the "
                                    + "prediction; an answer it cannot read is unknown.\n");
        }
        md.append("\nIntervals: percentile bootstrap over questions (")
                .append(bootstrap)
                .append(" resamples, numpy's MT19937 seeded with ")
                .append(seed)
                .append("), questions in PMID order.\n");
        md.append("\nCharts: `accuracy.png` (accuracy with its interval per configuration), `confusion.png`.\n");
        return md.toString();
    }

    private static String csv(List<ConfigSummary> summaries) {
        StringBuilder csv = new StringBuilder("config,mode,n,accuracy,accuracy_ci95_low,accuracy_ci95_high,macro_f1,"
                + "macro_f1_ci95_low,macro_f1_ci95_high,truncated_questions\n");
        for (ConfigSummary s : summaries) {
            csv.append(String.format(
                    Locale.ROOT,
                    "%s,%s,%d,%s,%s,%s,%s,%s,%s,%d%n",
                    s.name(),
                    s.mode(),
                    s.n(),
                    s.accuracy(),
                    s.accuracyCi95()[0],
                    s.accuracyCi95()[1],
                    s.macroF1(),
                    s.macroF1Ci95()[0],
                    s.macroF1Ci95()[1],
                    s.truncatedQuestions()));
        }
        return csv.toString();
    }

    private static void charts(Path out, Map<String, List<ObjectNode>> byConfig, List<ConfigSummary> summaries) {
        Map<String, int[][]> confusion = new LinkedHashMap<>();
        byConfig.forEach((name, rows) -> confusion.put(
                name,
                EvaluationCharts.counts(
                        rows.stream().map(r -> r.get("label").asText()).toList(),
                        rows.stream().map(r -> r.get("prediction").asText()).toList())));
        EvaluationCharts.accuracy(summaries, out.resolve("accuracy.png"));
        EvaluationCharts.confusion(confusion, out.resolve("confusion.png"));
        Map<String, double[]> f1 = new LinkedHashMap<>();
        byConfig.forEach((name, rows) -> {
            if (rows.get(0).has("squad_f1")) {
                f1.put(
                        name,
                        rows.stream()
                                .mapToDouble(r -> r.get("squad_f1").asDouble())
                                .toArray());
            }
        });
        if (!f1.isEmpty()) {
            EvaluationCharts.distribution(f1, "token F1 (squad_f1) of each answer", out.resolve("squad_f1.png"));
        }
    }

    /**
     * Percentile bootstrap (2.5th and 97.5th percentiles, numpy's linear interpolation) of accuracy and
     * macro-F1: {@code resamples} times, {@code n} indices drawn as {@code np.random.randint(n)} one by
     * one from {@code NumpyRandom(seed)}.
     */
    static double[][] bootstrap(List<String> truth, List<String> predicted, int resamples, long seed) {
        int n = truth.size();
        if (n == 0 || resamples <= 0) {
            return new double[][] {{Double.NaN, Double.NaN}, {Double.NaN, Double.NaN}};
        }
        NumpyRandom random = new NumpyRandom(seed);
        double[] acc = new double[resamples];
        double[] f1 = new double[resamples];
        List<String> t = new ArrayList<>(n);
        List<String> p = new ArrayList<>(n);
        for (int b = 0; b < resamples; b++) {
            t.clear();
            p.clear();
            for (int i = 0; i < n; i++) {
                int j = random.randint(n);
                t.add(truth.get(j));
                p.add(predicted.get(j));
            }
            Classification c = Classification.evaluate(t, p);
            acc[b] = c.accuracy();
            f1[b] = c.macroF1();
        }
        return new double[][] {
            {Percentile.of(acc, 2.5), Percentile.of(acc, 97.5)}, {Percentile.of(f1, 2.5), Percentile.of(f1, 97.5)}
        };
    }

    /** The numeric per-answer metric fields of generate-mode lines, in first-appearance order. */
    private static List<String> metricFields(List<ObjectNode> lines) {
        LinkedHashSet<String> fields = new LinkedHashSet<>();
        for (ObjectNode line : lines) {
            line.properties().forEach(e -> {
                if (e.getValue().isNumber() && !e.getKey().equals("truncated_contexts")) {
                    fields.add(e.getKey());
                }
            });
        }
        return new ArrayList<>(fields);
    }

    /** {@link Evaluation#compare}: {@code config} against {@code baseline} from the predictions in {@code out}. */
    static Comparison compare(Path out, String config, String baseline, int bootstrap, long seed) {
        Map<String, List<ObjectNode>> byConfig = RunLedger.byConfig(out);
        for (String name : List.of(config, baseline)) {
            if (!byConfig.containsKey(name)) {
                throw new IllegalArgumentException("no configuration " + name + " in " + out.resolve(PREDICTIONS_FILE)
                        + " (it has " + String.join(", ", byConfig.keySet()) + ")");
            }
        }
        return compare(
                byPubid(byConfig.get(baseline)), byPubid(byConfig.get(config)), config, baseline, bootstrap, seed);
    }

    private static Comparison compare(
            Map<String, ObjectNode> first,
            Map<String, ObjectNode> other,
            String config,
            String baseline,
            int bootstrap,
            long seed) {
        List<String> common = common(first, other);
        int b = 0;
        int c = 0;
        double[] diffs = new double[common.size()];
        for (int q = 0; q < common.size(); q++) {
            boolean r1 = correct(first.get(common.get(q)));
            boolean r2 = correct(other.get(common.get(q)));
            b += r1 && !r2 ? 1 : 0;
            c += !r1 && r2 ? 1 : 0;
            diffs[q] = (r2 ? 1 : 0) - (r1 ? 1 : 0);
        }
        return new Comparison(
                config,
                baseline,
                common.size(),
                Arrays.stream(diffs).average().orElse(Double.NaN),
                meanInterval(diffs, bootstrap, seed),
                b,
                c,
                McNemar.exactPValue(b, c));
    }

    /** The PMIDs both answered, in PMID order. */
    private static List<String> common(Map<String, ObjectNode> first, Map<String, ObjectNode> other) {
        return first.keySet().stream()
                .filter(other::containsKey)
                .sorted(Comparator.comparing(EvaluationReport::numeric).thenComparing(x -> x))
                .toList();
    }

    private static Map<String, ObjectNode> byPubid(List<ObjectNode> rows) {
        Map<String, ObjectNode> m = new LinkedHashMap<>();
        rows.forEach(r -> m.put(r.get("pubid").asText(), r));
        return m;
    }

    private static boolean correct(ObjectNode row) {
        return row.get("prediction").asText().equals(row.get("label").asText());
    }

    private static BigInteger numeric(String pmid) {
        return pmid.matches("\\d+") ? new BigInteger(pmid) : BigInteger.valueOf(Long.MAX_VALUE);
    }

    /**
     * Percentile-bootstrap interval of the mean of paired per-question values: the metrics module's
     * bootstrap (numpy's draws, 95%).
     */
    static double[] meanInterval(double[] values, int resamples, long seed) {
        if (values.length == 0 || resamples <= 0) {
            return new double[] {Double.NaN, Double.NaN};
        }
        Bootstrap.Interval i = new Bootstrap(0.95, resamples).resample(values, new NumpyRandom(seed));
        return new double[] {i.low(), i.high()};
    }
}
