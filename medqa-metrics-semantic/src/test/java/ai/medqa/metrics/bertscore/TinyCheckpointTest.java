package ai.medqa.metrics.bertscore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hugging Face folders (config.json, safetensors, tokenizer.json) of tiny random BERT (F32, "bert."
 * names) and RoBERTa (BF16, "roberta." names, positions from 2) against transformers' hidden states
 * of every layer (tools/make_bertscore_tiny.py).
 */
class TinyCheckpointTest {

    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta"})
    void everyLayerEqualsTransformers(String kind) throws Exception {
        Path folder = Path.of(
                TinyCheckpointTest.class.getResource("/bertscore/tiny/" + kind).toURI());
        JsonNode golden = Json.MAPPER.readTree(folder.resolve("golden.json").toFile());
        try (BertEncoder encoder = BertEncoder.load(folder)) {
            assertThat(encoder.numLayers()).isEqualTo(2);
            List<String> texts = new ArrayList<>();
            golden.get("texts").forEach(t -> texts.add(t.asText()));
            for (int layer = 0; layer <= encoder.numLayers(); layer++) {
                // Batches of 3: the 4 texts of different lengths share padded batches.
                List<TokenEmbeddings> got = encoder.encode(texts, layer, 3);
                for (int t = 0; t < texts.size(); t++) {
                    JsonNode ids = golden.get("ids").get(t);
                    int[] expectedIds = new int[ids.size()];
                    for (int i = 0; i < expectedIds.length; i++) {
                        expectedIds[i] = ids.get(i).asInt();
                    }
                    // The tokenizer.json asks for truncation at 8 and padding to 16; neither may apply.
                    assertThat(got.get(t).ids()).containsExactly(expectedIds);
                    JsonNode expected = golden.get("hidden_states").get(layer).get(t);
                    float[][] actual = got.get(t).vectors();
                    assertThat(actual.length).isEqualTo(expected.size());
                    for (int i = 0; i < actual.length; i++) {
                        for (int j = 0; j < actual[i].length; j++) {
                            assertThat((double) actual[i][j])
                                    .as("%s layer %d text %d token %d dim %d", kind, layer, t, i, j)
                                    .isCloseTo(expected.get(i).get(j).asDouble(), within(1e-5));
                        }
                    }
                }
            }
        }
    }
}
