package ai.medqa.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.common.Json;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import ai.medqa.tokenizer.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Likelihood scores against transformers (float32, eager) on the same model and encoding
 * ({@code tools/make_likelihood_golden.py}): 24 official test questions, with and without BOS,
 * per-answer log-likelihoods within 2e-3 and the same predictions.
 */
class LikelihoodGoldenTest {

    @Test
    void equalsTransformersWithAndWithoutBos(@TempDir Path dir) throws Exception {
        JsonNode golden = Json.MAPPER.readTree(
                TinyModel.resource("likelihood_golden.json").toFile());
        Map<String, PubMedQaItem> items = PubMedQaData.bundled().all().stream()
                .collect(Collectors.toMap(PubMedQaItem::pmid, Function.identity()));
        Path model = TinyModel.write(dir.resolve("m"));
        double worst = 0;
        int cases = 0;
        try (MistralModel m = MistralModel.load(model, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE);
                Tokenizer tok = Tokenizer.load(model)) {
            for (JsonNode c : golden.get("cases")) {
                boolean bos = c.get("bos").asBoolean();
                LikelihoodScorer.Scored s = new LikelihoodScorer(m, tok, bos)
                        .score(items.get(c.get("pubid").asText()));
                assertThat(s.contextTokens())
                        .as("context tokens of %s", c.get("pubid"))
                        .isEqualTo(c.get("context_tokens").asInt());
                for (String label : LikelihoodScorer.LABELS) {
                    double expected = c.get("loglikelihood").get(label).asDouble();
                    worst = Math.max(worst, Math.abs(s.loglikelihood().get(label) - expected));
                    assertThat(s.loglikelihood().get(label))
                            .as("%s bos=%s %s", c.get("pubid"), bos, label)
                            .isCloseTo(expected, within(2e-3));
                }
                assertThat(s.prediction()).isEqualTo(c.get("prediction").asText());
                assertThat(s.truncated()).isZero();
                cases++;
            }
        }
        assertThat(cases).isEqualTo(48);
        System.out.printf("[figure] PubMedQA likelihoods vs transformers: 48 cases, max |difference| %.2e%n", worst);
    }
}
