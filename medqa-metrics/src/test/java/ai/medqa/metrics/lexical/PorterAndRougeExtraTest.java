package ai.medqa.metrics.lexical;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.metrics.Golden;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

class PorterAndRougeExtraTest {
    private static final List<String> TYPES = List.of("rouge1", "rouge2", "rougeL", "rougeLsum");

    @Test
    void porterStemsEqualNltk38OnPubMedQaVocabulary() throws IOException {
        PorterStemmer stemmer = new PorterStemmer();
        SoftAssertions soft = new SoftAssertions();
        int n = 0;
        try (BufferedReader r = new BufferedReader(
                new InputStreamReader(Golden.open("golden/extra/porter_nltk38.tsv"), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                String[] wordStem = line.split("\t", -1);
                soft.assertThat(stemmer.stem(wordStem[0])).as(wordStem[0]).isEqualTo(wordStem[1]);
                n++;
            }
        }
        soft.assertAll();
        assertThat(n).isGreaterThan(5000);
    }

    @Test
    void bootstrapAggregateEqualsRougeScoreWithNumpySeed() {
        JsonNode boot = Golden.json("golden/extra/bootstrap.json");
        List<JsonNode> shared = Golden.jsonl("golden/metrics_pubmedqa_shared.jsonl");
        for (String key : List.of("seed42_n500", "seed0_n37")) {
            long seed = Long.parseLong(key.replaceAll("seed(\\d+)_n\\d+", "$1"));
            int n = Integer.parseInt(key.replaceAll("seed\\d+_n(\\d+)", "$1"));
            List<Map<String, RougeScore>> scores = new ArrayList<>();
            for (JsonNode row : shared.subList(0, n)) {
                Map<String, RougeScore> m = new LinkedHashMap<>();
                for (String t : TYPES) {
                    m.put(
                            t,
                            new RougeScore(
                                    row.get(t + "_p").asDouble(),
                                    row.get(t + "_r").asDouble(),
                                    row.get(t + "_f").asDouble()));
                }
                scores.add(m);
            }
            Map<String, RougeBootstrap.Aggregate> got = RougeBootstrap.aggregate(scores, seed);
            for (String t : TYPES) {
                JsonNode exp = boot.get(key).get(t);
                check(got.get(t).low(), exp.get("low"), key + " " + t + " low");
                check(got.get(t).mid(), exp.get("mid"), key + " " + t + " mid");
                check(got.get(t).high(), exp.get("high"), key + " " + t + " high");
            }
        }
    }

    private static void check(RougeScore got, JsonNode exp, String what) {
        assertThat(got.precision()).as(what).isCloseTo(exp.get(0).asDouble(), within(1e-9));
        assertThat(got.recall()).as(what).isCloseTo(exp.get(1).asDouble(), within(1e-9));
        assertThat(got.fmeasure()).as(what).isCloseTo(exp.get(2).asDouble(), within(1e-9));
    }

    @Test
    void scoreMultiTakesTheBestFPerType() {
        Rouge rouge = Rouge.standard(false);
        Map<String, RougeScore> multi =
                rouge.scoreMulti(List.of("one two three", "two three four five"), "two three four");
        assertThat(multi.get("rouge1"))
                .isEqualTo(rouge.score("two three four five", "two three four").get("rouge1"));
        assertThat(rouge.tokenize("Beta-blockers, μg/mL: 5%")).containsExactly("beta", "blockers", "g", "ml", "5");
        assertThat(Rouge.standard(true).tokenize("patients were treated")).containsExactly("patient", "were", "treat");
    }
}
