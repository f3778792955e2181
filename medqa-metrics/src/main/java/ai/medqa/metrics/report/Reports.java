package ai.medqa.metrics.report;

import ai.medqa.common.AtomicFiles;
import ai.medqa.metrics.stats.Summary;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Writes an {@link EvaluationResult} as JSON, CSV or Markdown; every write is atomic. */
public final class Reports {
    private static final Logger LOG = LoggerFactory.getLogger(Reports.class);
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);

    private Reports() {}

    /**
     * {@code {"name", "seed", "aggregates": {metric: {n, mean, std, ci_low, ci_high, confidence}},
     * "rows": [{"id", fields..., metrics...}]}}; doubles in shortest round-trip form.
     */
    public static void writeJson(EvaluationResult result, Path file) {
        ObjectNode root = JSON.createObjectNode();
        root.put("name", result.name());
        root.put("seed", result.seed());
        ObjectNode agg = root.putObject("aggregates");
        for (Map.Entry<String, Summary> e : result.aggregates().entrySet()) {
            Summary s = e.getValue();
            ObjectNode m = agg.putObject(e.getKey());
            m.put("n", s.n());
            m.put("mean", s.mean());
            m.put("std", s.std());
            m.put("ci_low", s.ciLow());
            m.put("ci_high", s.ciHigh());
            m.put("confidence", s.confidence());
        }
        ArrayNode rows = root.putArray("rows");
        for (EvaluationResult.Row r : result.rows()) {
            ObjectNode o = rows.addObject();
            o.put("id", r.id());
            r.fields().forEach(o::put);
            r.metrics().forEach(o::put);
        }
        AtomicFiles.write(file, out -> JSON.writeValue(out, root));
        LOG.info("wrote JSON report {} ({} rows)", file, result.rows().size());
    }

    /** One line per row: id, fields, metrics (RFC 4180 quoting; empty cell for a missing value). */
    public static void writeCsv(EvaluationResult result, Path file) {
        List<String> fields = EvaluationResult.fieldNames(result.rows());
        List<String> metrics = EvaluationResult.metricNames(result.rows());
        AtomicFiles.write(file, out -> {
            Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
            StringBuilder line = new StringBuilder("id");
            fields.forEach(f -> line.append(',').append(csv(f)));
            metrics.forEach(m -> line.append(',').append(csv(m)));
            w.write(line.append("\r\n").toString());
            for (EvaluationResult.Row r : result.rows()) {
                StringBuilder l = new StringBuilder(csv(r.id()));
                for (String f : fields) {
                    l.append(',').append(csv(r.fields().getOrDefault(f, "")));
                }
                for (String m : metrics) {
                    Double v = r.metrics().get(m);
                    l.append(',').append(v == null ? "" : Double.toString(v));
                }
                w.write(l.append("\r\n").toString());
            }
            w.flush();
        });
        LOG.info("wrote CSV report {}", file);
    }

    /** A summary table (metric, n, mean, std, 95% CI), then the per-sample metrics table. */
    public static void writeMarkdown(EvaluationResult result, Path file) {
        AtomicFiles.write(file, out -> {
            Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
            w.write(markdown(result));
            w.flush();
        });
        LOG.info("wrote Markdown report {}", file);
    }

    static String markdown(EvaluationResult result) {
        StringBuilder sb = new StringBuilder();
        sb.append("# ").append(md(result.name())).append("\n\n");
        sb.append("| metric | n | mean | std | 95% CI (bootstrap, seed ")
                .append(result.seed())
                .append(") |\n");
        sb.append("|---|---:|---:|---:|---|\n");
        for (Map.Entry<String, Summary> e : result.aggregates().entrySet()) {
            Summary s = e.getValue();
            sb.append("| ")
                    .append(md(e.getKey()))
                    .append(" | ")
                    .append(s.n())
                    .append(" | ")
                    .append(f4(s.mean()))
                    .append(" | ")
                    .append(f4(s.std()))
                    .append(" | [")
                    .append(f4(s.ciLow()))
                    .append(", ")
                    .append(f4(s.ciHigh()))
                    .append("] |\n");
        }
        List<String> metrics = EvaluationResult.metricNames(result.rows());
        sb.append("\n## Per sample\n\n| id |");
        metrics.forEach(m -> sb.append(' ').append(md(m)).append(" |"));
        sb.append("\n|---|");
        metrics.forEach(m -> sb.append("---:|"));
        sb.append('\n');
        for (EvaluationResult.Row r : result.rows()) {
            sb.append("| ").append(md(r.id())).append(" |");
            for (String m : metrics) {
                Double v = r.metrics().get(m);
                sb.append(' ').append(v == null ? "" : f4(v)).append(" |");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static String f4(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }

    private static String md(String s) {
        return s.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ");
    }

    private static String csv(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }
}
