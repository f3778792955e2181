package ai.medqa.metrics.stats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.metrics.Golden;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.Test;

class StatsTest {
    private static final JsonNode BOOT = Golden.json("golden/extra/bootstrap.json");

    @Test
    void randintEqualsNumpyLegacySeeding() {
        NumpyRandom r = new NumpyRandom(42);
        JsonNode exp = BOOT.get("randint_seed42_high500");
        for (int i = 0; i < exp.size(); i++) {
            assertThat(r.randint(500)).isEqualTo(exp.get(i).asInt());
        }
        NumpyRandom r2 = new NumpyRandom(123);
        for (int i = 0; i < 3; i++) {
            assertThat(r2.randint(1)).isZero();
        }
        JsonNode exp3 = BOOT.get("randint_seed123_then_high3");
        for (int i = 0; i < exp3.size(); i++) {
            assertThat(r2.randint(3)).as("draw %d", i).isEqualTo(exp3.get(i).asInt());
        }
    }

    @Test
    void summaryEqualsNumpyBootstrap() {
        List<JsonNode> rows = Golden.jsonl("golden/metrics_pubmedqa_shared.jsonl");
        double[] x =
                rows.stream().mapToDouble(r -> r.get("squad_f1").asDouble()).toArray();
        Summary s = Summary.of(x, 7);
        JsonNode e = BOOT.get("summary_squad_f1_seed7");
        assertThat(s.n()).isEqualTo(e.get("n").asInt());
        assertThat(s.mean()).isCloseTo(e.get("mean").asDouble(), within(1e-12));
        assertThat(s.std()).isCloseTo(e.get("std").asDouble(), within(1e-12));
        assertThat(s.ciLow()).isCloseTo(e.get("ci_low").asDouble(), within(1e-9));
        assertThat(s.ciHigh()).isCloseTo(e.get("ci_high").asDouble(), within(1e-9));
        assertThat(s.ciLow()).as("interval brackets the mean").isLessThan(s.mean());
        assertThat(s.ciHigh()).isGreaterThan(s.mean());
    }

    @Test
    void pearsonAndSpearmanEqualScipy() {
        JsonNode g = Golden.json("golden/extra/correlation.json");
        List<JsonNode> rows = Golden.jsonl("golden/metrics_pubmedqa_shared.jsonl");
        for (JsonNode c : g.get("cases")) {
            double[] x;
            double[] y;
            if (c.has("x")) {
                x = rows.stream()
                        .mapToDouble(r -> r.get(c.get("x").asText()).asDouble())
                        .toArray();
                y = rows.stream()
                        .mapToDouble(r -> r.get(c.get("y").asText()).asDouble())
                        .toArray();
            } else {
                x = doubles(c.get("x_values"));
                y = doubles(c.get("y_values"));
            }
            assertThat(Correlation.pearson(x, y))
                    .as("pearson %s", c)
                    .isCloseTo(c.get("pearson").asDouble(), within(1e-9));
            assertThat(Correlation.spearman(x, y))
                    .as("spearman %s", c)
                    .isCloseTo(c.get("spearman").asDouble(), within(1e-9));
        }
        assertThat(Correlation.rank(new double[] {3, 1, 3, 2})).containsExactly(3.5, 1, 3.5, 2);
        assertThat(Percentile.of(new double[] {1, 2, 3, 4}, 50)).isEqualTo(2.5);
    }

    private static double[] doubles(JsonNode a) {
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asDouble();
        }
        return out;
    }
}
