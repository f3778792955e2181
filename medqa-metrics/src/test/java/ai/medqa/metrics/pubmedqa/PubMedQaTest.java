package ai.medqa.metrics.pubmedqa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.metrics.Golden;
import ai.medqa.metrics.MetricsException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PubMedQaTest {
    private static final List<PubMedQaItem> ALL = PubMedQaLoader.load(Golden.path("pubmedqa/ori_pqal.json"));

    private static Map<PubMedQaLabel, Long> counts(List<PubMedQaItem> items) {
        return items.stream().collect(Collectors.groupingBy(PubMedQaItem::finalDecision, Collectors.counting()));
    }

    @Test
    void loadsAllThousandQuestions() {
        assertThat(ALL).hasSize(1000);
        assertThat(counts(ALL))
                .containsEntry(PubMedQaLabel.YES, 552L)
                .containsEntry(PubMedQaLabel.NO, 338L)
                .containsEntry(PubMedQaLabel.MAYBE, 110L);
        assertThat(ALL).allSatisfy(i -> assertThat(i.contexts()).isNotEmpty());
    }

    @Test
    void officialSplitHas500TestQuestions() {
        assertThat(PubMedQaSplit.officialTestLabels()).hasSize(500);
        List<PubMedQaItem> test = PubMedQaSplit.test(ALL);
        assertThat(test).hasSize(500);
        assertThat(counts(test))
                .containsEntry(PubMedQaLabel.YES, 276L)
                .containsEntry(PubMedQaLabel.NO, 169L)
                .containsEntry(PubMedQaLabel.MAYBE, 55L);
        assertThat(test)
                .allSatisfy(i -> assertThat(PubMedQaSplit.officialTestLabels().get(i.pmid()))
                        .isEqualTo(i.finalDecision()));
        assertThat(PubMedQaSplit.nonTest(ALL)).hasSize(500);
    }

    @Test
    void baselinePairsAreTheGoldenPairs() {
        List<JsonNode> golden = Golden.jsonl("golden/metrics_pubmedqa_shared.jsonl");
        List<PubMedQaPairs.Pair> pairs = PubMedQaPairs.lastSentenceBaseline(PubMedQaSplit.nonTest(ALL));
        assertThat(pairs).hasSize(golden.size());
        for (int i = 0; i < pairs.size(); i++) {
            assertThat(pairs.get(i).pmid()).isEqualTo(golden.get(i).get("pmid").asText());
            assertThat(pairs.get(i).candidate())
                    .isEqualTo(golden.get(i).get("candidate").asText());
            assertThat(pairs.get(i).reference())
                    .isEqualTo(golden.get(i).get("reference").asText());
        }
        assertThat(PubMedQaPairs.lastSentence("  One. Two?  Three!\u00a0Four ")).isEqualTo("Four");
        assertThat(PubMedQaPairs.lastSentence("   ")).isEmpty();
    }

    @Test
    void readsHuggingFaceJsonLines(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("pqa.jsonl");
        Files.writeString(
                f,
                "{\"pubid\": 21645374, \"question\": \"Q1?\", \"context\": {\"contexts\": [\"a\", \"b\"],"
                        + " \"labels\": [\"X\", \"Y\"]}, \"long_answer\": \"L1\", \"final_decision\": \"yes\"}\n\n"
                        + "{\"pubid\": \"7\", \"question\": \"Q2?\", \"context\": [\"c\"], \"long_answer\": \"L2\","
                        + " \"final_decision\": \"maybe\"}\n",
                StandardCharsets.UTF_8);
        List<PubMedQaItem> items = PubMedQaLoader.load(f);
        assertThat(items)
                .containsExactly(
                        new PubMedQaItem("21645374", "Q1?", List.of("a", "b"), "L1", PubMedQaLabel.YES),
                        new PubMedQaItem("7", "Q2?", List.of("c"), "L2", PubMedQaLabel.MAYBE));
    }

    @Test
    void malformedRecordsNameRecordAndField(@TempDir Path dir) throws IOException {
        Path jl = dir.resolve("bad.jsonl");
        Files.writeString(
                jl,
                "{\"pubid\": 1, \"question\": \"q\", \"context\": [\"c\"], \"long_answer\": \"l\","
                        + " \"final_decision\": \"yes\"}\n{\"pubid\": 2, \"question\": \"q\", \"context\": [\"c\"],"
                        + " \"final_decision\": \"perhaps\", \"long_answer\": \"l\"}\n");
        assertThatThrownBy(() -> PubMedQaLoader.load(jl))
                .isInstanceOf(MetricsException.class)
                .hasMessageContaining("line 2")
                .hasMessageContaining("pubid 2")
                .hasMessageContaining("final_decision")
                .hasMessageContaining("perhaps");
        Files.writeString(jl, "{\"pubid\": 3, \"question\": \"q\", \"context\": [\"c\", 5], \"long_answer\": \"l\"}\n");
        assertThatThrownBy(() -> PubMedQaLoader.load(jl))
                .isInstanceOf(MetricsException.class)
                .hasMessageContaining("pubid 3")
                .hasMessageContaining("context[1]");
        Path ori = dir.resolve("ori.json");
        Files.writeString(ori, "{\"123\": {\"QUESTION\": \"q\", \"CONTEXTS\": [\"c\"], \"final_decision\": \"no\"}}");
        assertThatThrownBy(() -> PubMedQaLoader.load(ori))
                .isInstanceOf(MetricsException.class)
                .hasMessageContaining("record 123")
                .hasMessageContaining("LONG_ANSWER")
                .hasMessageContaining("missing");
        Files.writeString(jl, "{not json}\n");
        assertThatThrownBy(() -> PubMedQaLoader.load(jl))
                .isInstanceOf(MetricsException.class)
                .hasMessageContaining("line 1");
    }

    @Test
    void extractsLabelsFromFreeText() {
        Function<String, Optional<PubMedQaLabel>> x = AnswerExtractor::extract;
        assertThat(x.apply("Yes, beta-blockers reduce mortality.")).contains(PubMedQaLabel.YES);
        assertThat(x.apply("**No.** The trial found no benefit")).contains(PubMedQaLabel.NO);
        assertThat(x.apply("Answer: maybe")).contains(PubMedQaLabel.MAYBE);
        assertThat(x.apply("Final answer: **yes**")).contains(PubMedQaLabel.YES);
        assertThat(x.apply("The evidence is mixed; there is no clear signal. The answer is maybe."))
                .contains(PubMedQaLabel.MAYBE);
        assertThat(x.apply("Based on the results, the decision: no")).contains(PubMedQaLabel.NO);
        assertThat(x.apply("Nobody knows")).isEmpty();
        assertThat(x.apply("The data suggest yes for adults")).contains(PubMedQaLabel.YES);
        assertThat(x.apply("yes or no cannot be said")).contains(PubMedQaLabel.YES);
        assertThat(x.apply("It could be yes or no")).isEmpty();
        assertThat(x.apply("")).isEmpty();
        assertThat(x.apply("Maybe.")).contains(PubMedQaLabel.MAYBE);
        assertThat(x.apply("A: No")).contains(PubMedQaLabel.NO);
    }

    @Test
    void accuracyMacroF1AndConfusionEqualScikitLearn() {
        JsonNode g = Golden.json("golden/extra/classification.json");
        List<String> truth = strings(g.get("truth"));
        assertThat(truth).hasSize(500);
        g.get("cases").properties().forEach(e -> {
            JsonNode c = e.getValue();
            Classification r = Classification.evaluate(truth, strings(c.get("pred")));
            assertThat(r.accuracy()).as(e.getKey()).isCloseTo(c.get("accuracy").asDouble(), within(1e-9));
            assertThat(r.macroF1()).as(e.getKey()).isCloseTo(c.get("macro_f1").asDouble(), within(1e-9));
            assertThat(r.labels()).isEqualTo(strings(c.get("labels_sorted")));
            for (int i = 0; i < r.labels().size(); i++) {
                for (int j = 0; j < r.labels().size(); j++) {
                    assertThat(r.confusion()[i][j])
                            .isEqualTo(c.get("confusion").get(i).get(j).asInt());
                }
            }
        });
        // Majority class on the official test split: the published 55.2% baseline.
        Classification majority = Classification.evaluate(truth, java.util.Collections.nCopies(500, "yes"));
        assertThat(majority.accuracy()).isEqualTo(0.552);
    }

    @Test
    void evaluatesFreeTextAnswers() {
        Classification r = Classification.evaluateAnswers(
                List.of(PubMedQaLabel.YES, PubMedQaLabel.NO, PubMedQaLabel.MAYBE, PubMedQaLabel.NO),
                List.of("Yes.", "No, it does not.", "hard to say", "The answer is no"));
        assertThat(r.accuracy()).isEqualTo(0.75);
        assertThat(r.labels()).containsExactly("maybe", "no", "unknown", "yes");
    }

    private static List<String> strings(JsonNode a) {
        List<String> out = new ArrayList<>();
        a.forEach(n -> out.add(n.asText()));
        return out;
    }
}
