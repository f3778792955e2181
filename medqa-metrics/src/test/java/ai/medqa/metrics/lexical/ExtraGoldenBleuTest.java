package ai.medqa.metrics.lexical;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.metrics.Golden;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/**
 * nltk smoothing 0-7, several references and other weights, corpus BLEU and sacreBLEU, against
 * values made by {@code tools/make_extra_golden.py} (nltk 3.8, sacrebleu 2.6.0).
 */
class ExtraGoldenBleuTest {
    private static final double TOL = 1e-9;

    @Test
    void sentenceBleuAllSmoothingMethods() {
        List<JsonNode> rows = Golden.jsonl("golden/extra/nltk_bleu_sentence.jsonl");
        assertThat(rows).hasSizeGreaterThan(300);
        SoftAssertions soft = new SoftAssertions();
        int raised = 0;
        for (int r = 0; r < rows.size(); r++) {
            JsonNode row = rows.get(r);
            double[] weights = doubles(row.get("weights"));
            List<String> refs = strings(row.get("references"));
            for (int m = 0; m < 8; m++) {
                JsonNode expected = row.get("bleu_m" + m);
                NltkBleu.Smoothing smoothing = NltkBleu.Smoothing.values()[m];
                if (expected.isNull()) {
                    raised++;
                    soft.assertThatThrownBy(() -> new NltkBleu(weights, smoothing)
                                    .sentence(row.get("candidate").asText(), refs))
                            .as("row %d m%d", r, m)
                            .isInstanceOf(IllegalArgumentException.class);
                } else {
                    double got = new NltkBleu(weights, smoothing)
                            .sentence(row.get("candidate").asText(), refs);
                    soft.assertThat(got).as("row %d m%d", r, m).isCloseTo(expected.asDouble(), within(TOL));
                }
            }
        }
        soft.assertAll();
        assertThat(raised).as("rows where nltk's method6 raises").isPositive();
    }

    @Test
    void corpusBleuAllSmoothingMethods() {
        JsonNode corpus = Golden.json("golden/extra/bleu_corpus.json");
        List<JsonNode> shared = Golden.jsonl("golden/metrics_pubmedqa_shared.jsonl");
        List<List<List<String>>> one = new ArrayList<>();
        List<List<List<String>>> two = new ArrayList<>();
        List<List<String>> hyps = new ArrayList<>();
        for (int i = 0; i < shared.size(); i++) {
            List<String> ref = PyText.lowerSplit(shared.get(i).get("reference").asText());
            List<String> next = PyText.lowerSplit(
                    shared.get((i + 1) % shared.size()).get("reference").asText());
            one.add(List.of(ref));
            two.add(List.of(ref, next));
            hyps.add(PyText.lowerSplit(shared.get(i).get("candidate").asText()));
        }
        for (int m = 0; m < 8; m++) {
            NltkBleu.Smoothing s = NltkBleu.Smoothing.values()[m];
            String key = "corpus_bleu_m" + m;
            assertThat(new NltkBleu(s).corpus(one, hyps))
                    .as("single m%d", m)
                    .isCloseTo(corpus.get("single_reference").get(key).asDouble(), within(TOL));
            assertThat(new NltkBleu(s).corpus(two, hyps))
                    .as("two m%d", m)
                    .isCloseTo(corpus.get("two_references").get(key).asDouble(), within(TOL));
            JsonNode half = corpus.get("weights_half").get(key);
            if (half.isNull()) {
                assertThatThrownBy(() -> new NltkBleu(new double[] {0.5, 0.5}, s).corpus(one, hyps))
                        .isInstanceOf(IllegalArgumentException.class);
            } else {
                assertThat(new NltkBleu(new double[] {0.5, 0.5}, s).corpus(one, hyps))
                        .as("half m%d", m)
                        .isCloseTo(half.asDouble(), within(TOL));
            }
        }
    }

    @Test
    void sacreBleuCorpusAndSentence() {
        JsonNode corpus = Golden.json("golden/extra/bleu_corpus.json");
        List<JsonNode> shared = Golden.jsonl("golden/metrics_pubmedqa_shared.jsonl");
        List<String> hyps = new ArrayList<>();
        List<String> s1 = new ArrayList<>();
        List<String> s2 = new ArrayList<>();
        for (int i = 0; i < shared.size(); i++) {
            hyps.add(shared.get(i).get("candidate").asText());
            s1.add(shared.get(i).get("reference").asText());
            s2.add(shared.get((i + 1) % shared.size()).get("reference").asText());
        }
        assertThat(SacreBleu.corpus(hyps, List.of(s1)).score())
                .isCloseTo(corpus.get("sacrebleu_corpus_single").asDouble(), within(TOL));
        assertThat(SacreBleu.corpus(hyps, List.of(s1, s2)).score())
                .isCloseTo(corpus.get("sacrebleu_corpus_two").asDouble(), within(TOL));
        SoftAssertions soft = new SoftAssertions();
        for (JsonNode row : Golden.jsonl("golden/extra/sacrebleu_sentence.jsonl")) {
            String cand = row.get("candidate").asText();
            soft.assertThat(SacreBleu.tokenize13a(PyText.rstrip(cand)))
                    .as(cand)
                    .isEqualTo(row.get("tokens_13a").asText());
            soft.assertThat(SacreBleu.sentence(
                                    cand, List.of(row.get("reference").asText()))
                            .score())
                    .as(cand)
                    .isCloseTo(row.get("sentence_bleu").asDouble(), within(TOL));
        }
        soft.assertAll();
    }

    static double[] doubles(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asDouble();
        }
        return out;
    }

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }
}
