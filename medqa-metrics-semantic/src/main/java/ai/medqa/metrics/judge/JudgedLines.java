package ai.medqa.metrics.judge;

import ai.medqa.common.AtomicFiles;
import ai.medqa.common.Json;
import ai.medqa.metrics.MetricsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The JSON Lines a judge run reads and writes: each line's {@code question} and {@code answer}
 * (strings), optional {@code reference} (a string or null) and {@code human_rating} (a number or
 * null), all checked before the first call to the judge; the verdicts written back into the lines as
 * {@code judge_rating}, {@code judge_feedback} and {@code judge_status}, other fields kept.
 */
public final class JudgedLines {
    private record Line(ObjectNode record, double humanRating) {}

    private final List<Line> lines;

    private JudgedLines(List<Line> lines) {
        this.lines = lines;
    }

    /**
     * The non-blank lines of {@code text}, read from {@code source}, each checked: a typo on line 900
     * should not cost 899 paid judge calls.
     *
     * @throws MetricsException naming the source, the line and what is wrong with it
     */
    public static JudgedLines parse(String source, List<String> text) {
        List<Line> lines = new ArrayList<>();
        int lineNo = 0;
        for (String line : text) {
            lineNo++;
            if (!line.isBlank()) {
                lines.add(parse(line, source + ": line " + lineNo));
            }
        }
        return new JudgedLines(lines);
    }

    private static Line parse(String text, String where) {
        ObjectNode rec = Json.parseObject(text, where, MetricsException::new);
        for (String field : List.of("question", "answer")) {
            if (rec.get(field) == null) {
                throw new MetricsException(
                        where + ": no field '" + field + "' (a string); the line has " + Json.fieldNames(rec));
            }
            if (!rec.get(field).isTextual()) {
                throw new MetricsException(
                        where + ": field '" + field + "' is " + rec.get(field) + "; expected a string");
            }
        }
        JsonNode ref = rec.get("reference");
        if (ref != null && !ref.isNull() && !ref.isTextual()) {
            throw new MetricsException(where + ": field 'reference' must be a string or null");
        }
        JsonNode human = rec.get("human_rating");
        if (human != null && !human.isNull() && !human.isNumber()) {
            throw new MetricsException(where + ": field 'human_rating' must be a number or null");
        }
        return new Line(rec, human == null || human.isNull() ? Double.NaN : human.asDouble());
    }

    /** How many lines there are to judge. */
    public int size() {
        return lines.size();
    }

    /** What the judge rates, line by line. */
    public List<LlmJudge.Item> items() {
        List<LlmJudge.Item> items = new ArrayList<>(lines.size());
        for (Line l : lines) {
            JsonNode ref = l.record().get("reference");
            items.add(new LlmJudge.Item(
                    l.record().get("question").asText(),
                    l.record().get("answer").asText(),
                    ref == null || ref.isNull() ? null : ref.asText()));
        }
        return items;
    }

    /**
     * Writes every line with its verdict ({@code judge_rating} null when the reply had no rating within
     * 1-4) to {@code out}, atomically: a failed run leaves no partial file.
     */
    public void write(Path out, List<JudgeVerdict> verdicts) {
        AtomicFiles.write(out, stream -> {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < lines.size(); i++) {
                ObjectNode rec = lines.get(i).record();
                JudgeVerdict v = verdicts.get(i);
                if (v.isRated()) {
                    rec.put("judge_rating", v.rating().getAsDouble());
                } else {
                    rec.putNull("judge_rating");
                }
                rec.put("judge_feedback", v.feedback());
                rec.put("judge_status", v.status().name().toLowerCase(Locale.ROOT));
                sb.append(Json.MAPPER.writeValueAsString(rec)).append('\n');
            }
            stream.write(sb.toString().getBytes(StandardCharsets.UTF_8));
        });
    }

    /**
     * The verdicts' summary, one line each: usable, missing and out-of-range ratings with their mean,
     * and the agreement with {@code human_rating} where lines have one.
     */
    public String summary(List<JudgeVerdict> verdicts) {
        StringBuilder out = new StringBuilder();
        Map<JudgeVerdict.Status, Integer> counts = new EnumMap<>(JudgeVerdict.Status.class);
        double sum = 0;
        for (JudgeVerdict v : verdicts) {
            counts.merge(v.status(), 1, Integer::sum);
            sum += v.rating().orElse(0);
        }
        int rated = counts.getOrDefault(JudgeVerdict.Status.OK, 0);
        out.append(String.format(
                Locale.ROOT,
                "ratings: %d usable, %d missing, %d out of range%s%n",
                rated,
                counts.getOrDefault(JudgeVerdict.Status.MISSING_RATING, 0),
                counts.getOrDefault(JudgeVerdict.Status.OUT_OF_RANGE, 0),
                rated == 0 ? "" : String.format(Locale.ROOT, "; mean %.3f", sum / rated)));
        double[] human = lines.stream().mapToDouble(Line::humanRating).toArray();
        if (lines.stream().anyMatch(l -> !Double.isNaN(l.humanRating()))) {
            LlmJudge.Agreement a = LlmJudge.agreement(verdicts, human);
            out.append(String.format(
                    Locale.ROOT,
                    "agreement with human_rating over %d pairs: Pearson %.4f, Spearman %.4f%n",
                    a.pairs(),
                    a.pearson(),
                    a.spearman()));
        }
        return out.toString();
    }
}
