package ai.medqa.eval;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Metrics of a generated answer against the reference beyond the lexical ones (BERTScore, a judge):
 * what generate mode adds to each prediction line and summarizes like the lexical fields.
 */
public interface AnswerMetrics {

    /** The field names {@link #score} returns, in order. */
    List<String> fields();

    /** The metrics of {@code answer} to {@code question}; a field may be left out where it has no value (an unparsed verdict). */
    Map<String, Double> score(String question, String answer, String reference);

    /** One metrics of several: their fields in order, each answer scored by all of them. */
    static AnswerMetrics combine(List<AnswerMetrics> parts) {
        List<AnswerMetrics> all = List.copyOf(parts);
        return new AnswerMetrics() {
            @Override
            public List<String> fields() {
                return all.stream().flatMap(p -> p.fields().stream()).toList();
            }

            @Override
            public Map<String, Double> score(String question, String answer, String reference) {
                Map<String, Double> m = new LinkedHashMap<>();
                all.forEach(p -> m.putAll(p.score(question, answer, reference)));
                return m;
            }
        };
    }
}
