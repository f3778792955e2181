package ai.medqa.eval;

import ai.medqa.common.Json;
import ai.medqa.generate.Constraint;
import ai.medqa.metrics.pubmedqa.Classification;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The answer field (or {@link Classification#UNKNOWN}) and explanation of a JSON answer; one cut
 * before its end (the budget ran out) is closed where it stopped to read what it has.
 */
record JsonAnswer(String answer, String explanation, boolean complete) {
    /** {@code {"answer": "yes"} } even when the rest was cut: the answer field is first and decided early. */
    private static final Pattern ANSWER_FIELD = Pattern.compile("\\s*\\{\\s*\"answer\"\\s*:\\s*\"(yes|no|maybe)\"");

    /** The constraint of {@link Evaluation#PUBMEDQA_JSON_SCHEMA}. */
    static Constraint constraint() {
        return Compiled.CONSTRAINT;
    }

    /** Compiled once for every run of the process (the automaton, and its per-state token sets as used). */
    private static final class Compiled {
        static final Constraint CONSTRAINT;

        static {
            try {
                CONSTRAINT = Constraint.jsonSchema(Json.MAPPER.readTree(Evaluation.PUBMEDQA_JSON_SCHEMA));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    static JsonAnswer read(String text) {
        JsonNode value = parse(text);
        boolean complete = value != null;
        // Cut: close the explanation string where it stopped (dropping half an escape) and the object.
        for (int drop = 0; value == null && drop <= 6 && drop <= text.length(); drop++) {
            value = parse(text.substring(0, text.length() - drop) + "\"}");
        }
        Matcher m = ANSWER_FIELD.matcher(text);
        // A cut one closed early may hold half a word ({"answer":"ye"}): only the three labels count.
        String answer = value != null && value.hasNonNull("answer")
                ? value.get("answer").asText()
                : m.lookingAt() ? m.group(1) : Classification.UNKNOWN;
        if (!List.of("yes", "no", "maybe").contains(answer)) {
            answer = Classification.UNKNOWN;
        }
        String explanation = value != null && value.hasNonNull("explanation")
                ? value.get("explanation").asText()
                : "";
        return new JsonAnswer(answer, explanation, complete);
    }

    private static JsonNode parse(String text) {
        try {
            JsonNode n = Json.MAPPER.readTree(text);
            return n != null && n.isObject() ? n : null;
        } catch (IOException e) {
            return null;
        }
    }
}
