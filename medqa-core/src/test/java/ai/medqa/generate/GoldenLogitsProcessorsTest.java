package ai.medqa.generate;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every row of transformers' own processors (golden/logits_processors*.jsonl, 30 cases x 6 singles and
 * 2 chains of 5 steps plus final probabilities) reproduced to 1e-6.
 */
class GoldenLogitsProcessorsTest {
    private static final double TOL = 1e-6;
    private static final ObjectMapper JSON = Json.MAPPER;

    /** transformers' class names for ours, to check the chain order against the golden one. */
    private static final Map<Class<?>, String> HF_NAMES = Map.of(
            RepetitionPenaltyProcessor.class, "RepetitionPenaltyLogitsProcessor",
            TemperatureWarper.class, "TemperatureLogitsWarper",
            TopKWarper.class, "TopKLogitsWarper",
            TopPWarper.class, "TopPLogitsWarper",
            MinPWarper.class, "MinPLogitsWarper");

    private static final Map<String, Supplier<LogitsProcessor>> SINGLES = Map.of(
            "repetition_penalty_1.2", () -> new RepetitionPenaltyProcessor(1.2),
            "temperature_0.7", () -> new TemperatureWarper(0.7),
            "top_k_50", () -> new TopKWarper(50, 1),
            "top_p_0.9", () -> new TopPWarper(0.9, 1),
            "top_p_0.8", () -> new TopPWarper(0.8, 1),
            "min_p_0.05", () -> new MinPWarper(0.05, 1));

    static Stream<JsonNode> rows() throws IOException {
        List<JsonNode> rows = new ArrayList<>();
        JsonNode meta = JSON.readTree(resource("logits_processors_meta.json"));
        for (JsonNode file : meta.get("files")) {
            try (BufferedReader r =
                    new BufferedReader(new InputStreamReader(resource(file.asText()), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    if (!line.isBlank()) {
                        rows.add(JSON.readTree(line));
                    }
                }
            }
        }
        assertThat(rows).hasSize(30);
        return rows.stream();
    }

    private static InputStream resource(String name) {
        InputStream in = GoldenLogitsProcessorsTest.class.getResourceAsStream("/golden/" + name);
        assertThat(in).as("test resource golden/" + name).isNotNull();
        return in;
    }

    @ParameterizedTest(name = "case {index}")
    @MethodSource("rows")
    void singleProcessorsMatchTransformers(JsonNode row) {
        int[] prev = ints(row.get("prev_ids"));
        float[] logits = floats(row.get("logits"));
        assertThat(SINGLES.keySet())
                .containsExactlyInAnyOrderElementsOf(iterable(row.get("single").fieldNames()));
        for (Map.Entry<String, Supplier<LogitsProcessor>> e : SINGLES.entrySet()) {
            float[] x = logits.clone();
            e.getValue().get().process(prev, prev.length, x);
            assertClose(x, floats(row.get("single").get(e.getKey())), label(row, e.getKey()));
        }
    }

    @ParameterizedTest(name = "case {index}")
    @MethodSource("rows")
    void chainInGenerateOrderMatchesTransformersAfterEveryStep(JsonNode row) {
        int[] prev = ints(row.get("prev_ids"));
        for (double topP : new double[] {0.9, 0.8}) {
            JsonNode gold = row.get("chain").get("top_p_" + topP);
            GenerationConfig config = GenerationConfig.builder()
                    .doSample(true)
                    .repetitionPenalty(1.2)
                    .temperature(0.7)
                    .topK(50)
                    .topP(topP)
                    .minP(0.05)
                    .build();
            List<LogitsProcessor> chain = LogitsProcessorChain.of(config).processors();
            assertThat(chain.stream().map(p -> HF_NAMES.get(p.getClass())))
                    .containsExactlyElementsOf(iterable(gold.get("order").elements(), JsonNode::asText));
            float[] x = floats(row.get("logits"));
            for (int s = 0; s < chain.size(); s++) {
                chain.get(s).process(prev, prev.length, x);
                JsonNode step = gold.get("steps").get(s);
                assertClose(
                        x,
                        floats(step.get("out")),
                        label(
                                row,
                                "chain top_p " + topP + " step " + s + " "
                                        + step.get("processor").asText()));
            }
            float[] probs = Softmax.probs(x);
            assertClose(probs, floats(gold.get("probs")), label(row, "chain top_p " + topP + " probs"));
            long nonZero = 0;
            for (float p : probs) {
                nonZero += p > 0 ? 1 : 0;
            }
            assertThat(nonZero).isEqualTo(gold.get("n_nonzero").asLong());

            // the fast sampler keeps exactly the same tokens
            float[] y = floats(row.get("logits"));
            int[] kept = Sampler.create(config).keptIds(prev, prev.length, y);
            int[] expected = java.util.stream.IntStream.range(0, probs.length)
                    .filter(i -> x[i] != Float.NEGATIVE_INFINITY)
                    .toArray();
            assertThat(kept)
                    .as(label(row, "fast sampler kept ids, top_p " + topP))
                    .containsExactly(expected);
        }
    }

    private static String label(JsonNode row, String what) {
        return "case " + row.get("case").asInt() + " (" + row.get("kind").asText() + ") " + what;
    }

    static void assertClose(float[] actual, float[] expected, String label) {
        assertThat(actual).as(label + ": length").hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            float a = actual[i];
            float e = expected[i];
            if (e == Float.NEGATIVE_INFINITY || a == Float.NEGATIVE_INFINITY) {
                assertThat(a).as(label + " at id " + i + " (-inf is filtered)").isEqualTo(e);
            } else {
                // absolute 1e-6, relative for |x| > 1 (float32 spacing at 40 is 4e-6)
                assertThat((double) Math.abs(a - e))
                        .as(label + " at id " + i + ": " + a + " vs " + e)
                        .isLessThanOrEqualTo(TOL * Math.max(1.0, Math.abs(e)));
            }
        }
    }

    static float[] floats(JsonNode arr) {
        float[] out = new float[arr.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = arr.get(i);
            out[i] = v.isNull() ? Float.NEGATIVE_INFINITY : (float) v.asDouble();
        }
        return out;
    }

    static int[] ints(JsonNode arr) {
        int[] out = new int[arr.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = arr.get(i).asInt();
        }
        return out;
    }

    private static <T> List<T> iterable(java.util.Iterator<T> it) {
        List<T> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    private static <T, R> List<R> iterable(java.util.Iterator<T> it, java.util.function.Function<T, R> f) {
        List<R> out = new ArrayList<>();
        it.forEachRemaining(t -> out.add(f.apply(t)));
        return out;
    }
}
