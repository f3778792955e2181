package ai.medqa.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.io.DType;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.tokenizer.Tokenizer;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The decode loop end to end: on fixture model C (golden greedy ids from mistral_ref.py) and on a
 * small random model with Mistral's real 32,000-token tokenizer, whose random output is full of
 * byte-fallback pieces and odd spacing: the hard case for streaming.
 */
class GeneratorTest {
    static int[] PROMPT_C;
    static int[] GREEDY_C;

    @TempDir
    static Path randomDir;

    static MistralModel modelC;
    static MistralModel random;
    static Tokenizer tokenizer;

    @BeforeAll
    static void load() throws Exception {
        var golden = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(resource("/fixtures/mistral-swa/golden.json").toFile())
                .get("cases")
                .get(0);
        PROMPT_C = new com.fasterxml.jackson.databind.ObjectMapper().convertValue(golden.get("prompt"), int[].class);
        GREEDY_C = new com.fasterxml.jackson.databind.ObjectMapper().convertValue(golden.get("greedy"), int[].class);
        modelC = MistralModel.load(
                resource("/fixtures/mistral-swa/f32"), Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE);
        RandomCheckpoint.write(randomDir, RandomCheckpoint.config(32, 64, 2, 4, 2, 32000, 512, 0), DType.F32, 11);
        Files.copy(resource("/tokenizer/mistral-7b-v0.1/tokenizer.json"), randomDir.resolve("tokenizer.json"));
        random = MistralModel.load(randomDir, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE);
        tokenizer = Tokenizer.load(randomDir);
    }

    @AfterAll
    static void close() {
        modelC.close();
        random.close();
        tokenizer.close();
    }

    static Path resource(String name) throws URISyntaxException {
        return Path.of(GeneratorTest.class.getResource(name).toURI());
    }

    static GenerationConfig greedy(int n) {
        return GenerationConfig.greedy().toBuilder()
                .maxNewTokens(n)
                .eosTokenIds(Set.of())
                .build();
    }

    @Test
    void greedyMatchesTheReference() {
        Generation g = new Generator(modelC, null).generate(PROMPT_C, greedy(20));
        assertThat(g.tokens()).containsExactly(GREEDY_C);
        assertThat(g.stopReason()).isEqualTo(StopReason.MAX_NEW_TOKENS);
    }

    @Test
    void batchEqualsOneAtATimeUnderGreedy() {
        Generator generator = new Generator(modelC, null);
        List<int[]> prompts = List.of(
                PROMPT_C,
                java.util.Arrays.copyOf(PROMPT_C, 9),
                new int[] {1, 200},
                java.util.Arrays.copyOfRange(PROMPT_C, 5, 20));
        List<Generation> batch = generator.generateBatch(prompts, greedy(15));
        for (int r = 0; r < prompts.size(); r++) {
            assertThat(batch.get(r).tokens())
                    .as("row %d", r)
                    .containsExactly(
                            generator.generate(prompts.get(r), greedy(15)).tokens());
        }
        assertThat(batch.get(0).tokens()).containsExactly(java.util.Arrays.copyOf(GREEDY_C, 15));
    }

    @Test
    void eachRowStopsOnItsOwn() {
        Generator generator = new Generator(modelC, null);
        // Make the third token of row 0's greedy run its end-of-sequence id.
        GenerationConfig config =
                greedy(10).toBuilder().eosTokenIds(Set.of(GREEDY_C[2])).build();
        List<Generation> batch = generator.generateBatch(List.of(PROMPT_C, new int[] {1, 200}), config);
        assertThat(batch.get(0).tokens()).containsExactly(GREEDY_C[0], GREEDY_C[1], GREEDY_C[2]);
        assertThat(batch.get(0).stopReason()).isEqualTo(StopReason.EOS);
        assertThat(batch.get(1).tokens())
                .containsExactly(generator.generate(new int[] {1, 200}, config).tokens());
    }

    @Test
    void sameSeedSameTokensAndBatchRowsSampleLikeSingleRuns() {
        Generator generator = new Generator(modelC, null);
        GenerationConfig sampling = GenerationConfig.sampling().toBuilder()
                .temperature(1.5)
                .topP(0.95)
                .seed(42)
                .maxNewTokens(20)
                .eosTokenIds(Set.of())
                .build();
        int[] a = generator.generate(PROMPT_C, sampling).tokens();
        int[] b = generator.generate(PROMPT_C, sampling).tokens();
        assertThat(a).containsExactly(b).isNotEqualTo(GREEDY_C);
        int[] other = generator
                .generate(PROMPT_C, sampling.toBuilder().seed(43).build())
                .tokens();
        assertThat(other).isNotEqualTo(a);
        assertThat(generator.generateBatch(List.of(PROMPT_C, PROMPT_C), sampling))
                .allSatisfy(g -> assertThat(g.tokens()).containsExactly(a));
    }

    @Test
    void contextFullStopsGeneration() {
        int[] prompt = java.util.Arrays.copyOf(PROMPT_C, 24);
        Generation g = new Generator(modelC, null).generate(prompt, greedy(100));
        assertThat(g.tokens()).hasSize(64 - 24);
        assertThat(g.stopReason()).isEqualTo(StopReason.CONTEXT_FULL);
    }

    @Test
    void streamedTextIsExactlyTheDecodedText() {
        Generator generator = new Generator(random, tokenizer);
        GenerationConfig sampling = GenerationConfig.sampling().toBuilder()
                .temperature(1.0)
                .topK(0)
                .seed(5)
                .maxNewTokens(150)
                .eosTokenIds(Set.of())
                .build();
        int byteFallback = 0;
        for (int seed = 0; seed < 3; seed++) {
            GenerationConfig config = sampling.toBuilder().seed(seed).build();
            int[] prompt = tokenizer.encode("µg/mL of β-blocker 🫀 per day");
            StringBuilder callback = new StringBuilder();
            List<Integer> ids = new ArrayList<>();
            Generation g = generator.generate(prompt, config, (id, text) -> {
                ids.add(id);
                callback.append(text);
            });
            String decoded = tokenizer.decode(g.tokens());
            assertThat(ids)
                    .containsExactlyElementsOf(
                            java.util.Arrays.stream(g.tokens()).boxed().toList());
            assertThat(callback.toString()).isEqualTo(decoded).isEqualTo(g.text());
            try (Stream<String> pieces = generator.stream(prompt, config)) {
                assertThat(pieces.collect(Collectors.joining())).isEqualTo(decoded);
            }
            byteFallback += (int) java.util.Arrays.stream(g.tokens())
                    .filter(id -> id >= 3 && id < 3 + 256)
                    .count();
        }
        // The test only means something if the random text is full of byte pieces.
        assertThat(byteFallback).isGreaterThan(0);
    }

    @Test
    void stopStringsCutTheTextAndAreNeverStreamed() {
        Generator generator = new Generator(random, tokenizer);
        GenerationConfig config = greedy(60);
        int[] prompt = tokenizer.encode("The answer is");
        String full = generator.generate(prompt, config).text();
        // Stop at a piece of text the run is known to produce.
        String stop = full.substring(full.length() / 2, full.length() / 2 + 3);
        Generation g =
                generator.generate(prompt, config.toBuilder().stopStrings(stop).build());
        assertThat(g.stopReason()).isEqualTo(StopReason.STOP_STRING);
        assertThat(g.text()).isEqualTo(full.substring(0, full.indexOf(stop)));
        try (Stream<String> pieces =
                generator.stream(prompt, config.toBuilder().stopStrings(stop).build())) {
            assertThat(pieces.collect(Collectors.joining())).isEqualTo(g.text());
        }
    }

    @Test
    void stopStringsNeedATokenizer() {
        GenerationConfig config = greedy(5).toBuilder().stopStrings("x").build();
        assertThatThrownBy(() -> new Generator(modelC, null).generate(PROMPT_C, config))
                .isInstanceOf(GenerationConfigException.class)
                .hasMessageContaining("tokenizer");
    }
}
