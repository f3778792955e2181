package ai.medqa.metrics.lexical;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.metrics.Golden;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every metric of every golden row (nltk 3.8 BLEU, SQuAD F1, set F1, rouge-score) to 1e-9. */
class GoldenLexicalTest {
    private static final double TOL = 1e-9;
    private final PairScorer scorer = new PairScorer();

    @ParameterizedTest
    @ValueSource(strings = {"golden/metrics_pubmedqa_shared.jsonl", "golden/metrics_edge_cases.jsonl"})
    void everyRowMatchesTheReference(String resource) {
        List<JsonNode> rows = Golden.jsonl(resource);
        assertThat(rows).hasSizeGreaterThanOrEqualTo(33);
        SoftAssertions soft = new SoftAssertions();
        int compared = 0;
        for (JsonNode row : rows) {
            String id = row.has("pmid")
                    ? row.get("pmid").asText()
                    : row.get("label").asText();
            Map<String, Double> got = scorer.score(
                    row.get("candidate").asText(), row.get("reference").asText());
            for (String field : PairScorer.fieldNames()) {
                assertThat(row.has(field)).as("golden has %s", field).isTrue();
                soft.assertThat(got.get(field))
                        .as("%s %s", id, field)
                        .isCloseTo(row.get(field).asDouble(), within(TOL));
                compared++;
            }
        }
        soft.assertAll();
        assertThat(compared).isEqualTo(rows.size() * 30);
    }

    @Test
    void corpusBleuMatchesNltk() {
        JsonNode corpus = Golden.json("golden/metrics_pubmedqa_corpus_shared.json");
        List<List<List<String>>> refs = new ArrayList<>();
        List<List<String>> hyps = new ArrayList<>();
        for (JsonNode row : Golden.jsonl("golden/metrics_pubmedqa_shared.jsonl")) {
            refs.add(List.of(PyText.lowerSplit(row.get("reference").asText())));
            hyps.add(PyText.lowerSplit(row.get("candidate").asText()));
        }
        assertThat(hyps).hasSize(corpus.get("n_pairs").asInt());
        Stream.of("m0", "m1", "m2", "m4").forEach(m -> {
            double got = new NltkBleu(NltkBleu.Smoothing.parse(m)).corpus(refs, hyps);
            assertThat(got).as(m).isCloseTo(corpus.get("corpus_bleu_" + m).asDouble(), within(TOL));
        });
    }
}
