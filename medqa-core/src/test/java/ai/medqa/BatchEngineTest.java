package ai.medqa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.generate.BatchEngine;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.Generator;
import ai.medqa.generate.StopReason;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The continuous-batching engine: rows that join a running batch, leave it, and use different
 * adapters give PEFT's and the numpy reference's greedy tokens, and sample as they would alone.
 */
class BatchEngineTest {
    static MedQA medqa;
    static int[] prompt;
    static int nGreedy;
    static JsonNode golden;
    static int[] base;

    @BeforeAll
    static void load() throws Exception {
        var json = ai.medqa.common.Json.MAPPER;
        golden = json.readTree(resource("/fixtures/lora/golden.json").toFile());
        prompt = json.convertValue(golden.get("prompt"), int[].class);
        nGreedy = golden.get("n_greedy").asInt();
        base = json.convertValue(
                json.readTree(resource("/fixtures/mistral-swa/golden.json").toFile())
                        .get("cases")
                        .get(0)
                        .get("greedy"),
                int[].class);
        medqa = MedQA.builder()
                .model(resource("/fixtures/mistral-swa/f32"))
                .lora(resource("/fixtures/lora/C-qv"))
                .lora("all", resource("/fixtures/lora/C-all"))
                .build();
        medqa.useAdapter(null);
    }

    @AfterAll
    static void close() {
        medqa.close();
    }

    static Path resource(String name) throws Exception {
        return Path.of(BatchEngineTest.class.getResource(name).toURI());
    }

    static GenerationConfig greedy(int n) {
        return GenerationConfig.greedy().toBuilder()
                .maxNewTokens(n)
                .eosTokenIds(Set.of())
                .build();
    }

    private static int[] adapterGreedy(String adapter) {
        return ai.medqa.common.Json.MAPPER.convertValue(
                golden.get("adapters")
                        .get(adapter.equals("all") ? "C-all" : adapter)
                        .get("greedy"),
                int[].class);
    }

    @Test
    void rowsOfDifferentAdaptersJoiningMidwayGiveTheReferenceTokens() throws Exception {
        try (BatchEngine engine = medqa.newEngine(8, 16)) {
            // A long base request is running when the others join, one step at a time.
            CountDownLatch started = new CountDownLatch(3);
            BatchEngine.Request longOne = engine.submit(prompt, greedy(nGreedy), null, (id, t) -> started.countDown());
            assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
            List<BatchEngine.Request> joined = new ArrayList<>();
            for (String adapter : new String[] {"C-qv", "all", null, "C-qv", "all"}) {
                joined.add(engine.submit(prompt, greedy(nGreedy), adapter, null));
            }
            // A shorter prompt (more left padding) in the same group as the long one.
            int[] shortPrompt = Arrays.copyOf(prompt, 5);
            BatchEngine.Request shortOne = engine.submit(shortPrompt, greedy(12), null, null);

            assertThat(longOne.result().get(60, TimeUnit.SECONDS).tokens())
                    .containsExactly(Arrays.copyOf(base, nGreedy));
            String[] names = {"C-qv", "all", null, "C-qv", "all"};
            for (int i = 0; i < names.length; i++) {
                int[] expected = names[i] == null ? Arrays.copyOf(base, nGreedy) : adapterGreedy(names[i]);
                assertThat(joined.get(i).result().get(60, TimeUnit.SECONDS).tokens())
                        .as("row %d (%s)", i, names[i])
                        .containsExactly(expected);
            }
            Generation alone = new Generator(medqa.model(), null).generate(shortPrompt, greedy(12));
            assertThat(shortOne.result().get(60, TimeUnit.SECONDS).tokens()).containsExactly(alone.tokens());
        }
        // The engine names each row's adapter: the instance's own choice was never touched.
        assertThat(medqa.activeAdapter()).isEmpty();
    }

    @Test
    void aGatheredBatchGivesEachRowItsSingleRunLogitsWithin1e4() {
        ai.medqa.model.MistralModel m = medqa.model();
        int[][] prompts = {prompt, Arrays.copyOf(prompt, 4), Arrays.copyOfRange(prompt, 3, 12)};
        int[] next = {7, 99, 180};
        ai.medqa.model.KvCache[] alone = new ai.medqa.model.KvCache[prompts.length];
        float[][] expected = new float[prompts.length][];
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            scope.suppressNotUsedWarning();
            for (int r = 0; r < prompts.length; r++) {
                alone[r] = m.newCache(prompts[r].length + 1);
                m.forward(new int[][] {prompts[r]}, alone[r], false);
            }
            // The batch is gathered before the single rows take their next step.
            try (ai.medqa.model.KvCache batch = m.gatherCache(alone, new int[prompts.length], 1)) {
                assertThat(batch.padLeft()).containsExactly(0, prompts[0].length - 4, prompts[0].length - 9);
                for (int r = 0; r < prompts.length; r++) {
                    expected[r] =
                            m.forward(new int[][] {{next[r]}}, alone[r], false).toFloatArray();
                }
                float[] got = m.forward(new int[][] {{next[0]}, {next[1]}, {next[2]}}, batch, false)
                        .toFloatArray();
                int vocab = m.config().vocabSize();
                for (int r = 0; r < prompts.length; r++) {
                    float[] row = Arrays.copyOfRange(got, r * vocab, (r + 1) * vocab);
                    float worst = 0;
                    for (int v = 0; v < vocab; v++) {
                        worst = Math.max(worst, Math.abs(row[v] - expected[r][v]));
                    }
                    assertThat(worst).as("row %d, max |batched - alone|", r).isLessThanOrEqualTo(1e-4f);
                }
            }
        } finally {
            for (ai.medqa.model.KvCache c : alone) {
                if (c != null) {
                    c.close();
                }
            }
        }
    }

    /**
     * Rows of three adapters and none, with prompts of three lengths, in one gathered batch and one
     * forward pass: each row's logits are its single run's (the same adapter alone) within 1e-4, and
     * differ from the base's where an adapter applies.
     */
    @Test
    void aMixedAdapterBatchGivesEachRowItsSingleRunLogitsWithin1e4() {
        ai.medqa.model.MistralModel m = medqa.model();
        ai.medqa.lora.LoraAdapters lora = ai.medqa.lora.LoraAdapters.of(m);
        String[] names = {"C-qv", "all", null, "all", "C-qv"};
        int[][] prompts = {
            prompt, Arrays.copyOf(prompt, 4), Arrays.copyOfRange(prompt, 3, 12), prompt, Arrays.copyOf(prompt, 7)
        };
        int[] ids = new int[names.length];
        for (int r = 0; r < names.length; r++) {
            ids[r] = lora.id(names[r]);
        }
        int[][] next = {{7}, {99}, {180}, {7}, {55}};
        ai.medqa.model.KvCache[] alone = new ai.medqa.model.KvCache[prompts.length];
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            scope.suppressNotUsedWarning();
            for (int r = 0; r < prompts.length; r++) {
                alone[r] = m.newCache(prompts[r].length + 1);
                m.forward(new int[][] {prompts[r]}, alone[r], false, ai.medqa.model.AdapterRows.of(ids[r]));
            }
            try (ai.medqa.model.KvCache batch = m.gatherCache(alone, new int[prompts.length], 1)) {
                float[][] expected = new float[prompts.length][];
                float[][] base = new float[prompts.length][];
                for (int r = 0; r < prompts.length; r++) {
                    try (ai.medqa.model.KvCache copy =
                            m.gatherCache(new ai.medqa.model.KvCache[] {alone[r]}, new int[1], 1)) {
                        base[r] = m.forward(new int[][] {next[r]}, copy, false, ai.medqa.model.AdapterRows.of(-1))
                                .toFloatArray();
                    }
                    expected[r] = m.forward(
                                    new int[][] {next[r]}, alone[r], false, ai.medqa.model.AdapterRows.of(ids[r]))
                            .toFloatArray();
                }
                float[] got = m.forward(next, batch, false, ai.medqa.model.AdapterRows.of(ids))
                        .toFloatArray();
                int vocab = m.config().vocabSize();
                for (int r = 0; r < prompts.length; r++) {
                    float[] row = Arrays.copyOfRange(got, r * vocab, (r + 1) * vocab);
                    assertThat(maxAbsDiff(row, expected[r]))
                            .as("row %d (%s), max |batched - alone|", r, names[r])
                            .isLessThanOrEqualTo(1e-4f);
                    if (names[r] != null) {
                        assertThat(maxAbsDiff(row, base[r]))
                                .as("row %d: its adapter applied", r)
                                .isGreaterThan(1e-3f);
                    } else {
                        assertThat(maxAbsDiff(row, base[r]))
                                .as("row %d: no adapter", r)
                                .isLessThanOrEqualTo(1e-4f);
                    }
                }
            }
        } finally {
            for (ai.medqa.model.KvCache c : alone) {
                if (c != null) {
                    c.close();
                }
            }
        }
    }

    /** Eight seeded samplers over three adapters and none: each row's tokens are its single run's, in one pass per step. */
    @Test
    void seededSamplingOfMixedAdaptersInABatchEqualsTheSingleRuns() throws Exception {
        String[] names = {"C-qv", "all", null, "all", "C-qv", null, "all", "C-qv"};
        GenerationConfig[] configs = new GenerationConfig[names.length];
        int[][] alone = new int[names.length][];
        int longest = 0;
        for (int i = 0; i < names.length; i++) {
            configs[i] = GenerationConfig.sampling().toBuilder()
                    .temperature(1.1)
                    .topP(0.95)
                    .seed(300 + i)
                    .maxNewTokens(12 + i)
                    .eosTokenIds(Set.of())
                    .build();
            medqa.useAdapter(names[i]);
            alone[i] = medqa.generate(prompt, configs[i]).tokens();
            longest = Math.max(longest, 12 + i);
        }
        medqa.useAdapter(null);
        CountDownLatch go = new CountDownLatch(1);
        try (BatchEngine engine = medqa.newEngine(8, 8)) {
            // Held at the first token until all are queued, so that they run side by side.
            BatchEngine.Request first = engine.submit(prompt, configs[0], names[0], (id, t) -> awaitQuietly(go));
            List<BatchEngine.Request> requests = new ArrayList<>(List.of(first));
            for (int i = 1; i < names.length; i++) {
                requests.add(engine.submit(prompt, configs[i], names[i], null));
            }
            go.countDown();
            for (int i = 0; i < names.length; i++) {
                assertThat(requests.get(i).result().get(60, TimeUnit.SECONDS).tokens())
                        .as("row %d (%s)", i, names[i])
                        .containsExactly(alone[i]);
            }
            // One prefill per request and one pass per decode step, not one per adapter per step.
            assertThat(engine.forwardPasses()).isLessThanOrEqualTo(names.length + longest);
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        float worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    @Test
    void seededSamplingInABatchEqualsTheSingleRun() throws Exception {
        GenerationConfig[] configs = new GenerationConfig[8];
        int[][] alone = new int[8][];
        for (int i = 0; i < 8; i++) {
            configs[i] = GenerationConfig.sampling().toBuilder()
                    .temperature(1.2)
                    .topP(0.9)
                    .topK(20)
                    .repetitionPenalty(1.1)
                    .seed(100 + i)
                    .maxNewTokens(10 + 3 * i)
                    .eosTokenIds(Set.of())
                    .build();
            alone[i] = medqa.generate(prompt, configs[i]).tokens();
        }
        try (BatchEngine engine = medqa.newEngine(8, 0)) {
            List<BatchEngine.Request> requests = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                requests.add(engine.submit(prompt, configs[i], null, null));
            }
            for (int i = 0; i < 8; i++) {
                Generation g = requests.get(i).result().get(60, TimeUnit.SECONDS);
                assertThat(g.tokens()).as("row %d", i).containsExactly(alone[i]);
                assertThat(g.stopReason()).isEqualTo(StopReason.MAX_NEW_TOKENS);
            }
        }
    }

    @Test
    void aFinishedLongPromptLeavesBeforeItsSlotWouldPassTheContext() throws Exception {
        // Context 64: the long prompt's row finishes after 3 tokens; its slot, kept while the short row
        // runs on, would reach position 64 long before the short row's 58 tokens are done.
        int[] longPrompt = new int[50];
        for (int i = 0; i < longPrompt.length; i++) {
            longPrompt[i] = 1 + (i * 37) % 250;
        }
        int[] shortPrompt = {1, 200};
        Generation longAlone = new Generator(medqa.model(), null).generate(longPrompt, greedy(3));
        Generation shortAlone = new Generator(medqa.model(), null).generate(shortPrompt, greedy(58));
        try (BatchEngine engine = medqa.newEngine(4, 4)) {
            CountDownLatch both = new CountDownLatch(1);
            BatchEngine.Request shortOne = engine.submit(shortPrompt, greedy(58), null, (id, t) -> {
                try {
                    both.await(); // hold the engine until the long one is queued: they share the batch
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            BatchEngine.Request longOne = engine.submit(longPrompt, greedy(3), null, null);
            both.countDown();
            assertThat(longOne.result().get(60, TimeUnit.SECONDS).tokens()).containsExactly(longAlone.tokens());
            assertThat(shortOne.result().get(60, TimeUnit.SECONDS).tokens()).containsExactly(shortAlone.tokens());
        }
    }

    /** A listener that throws ends its request with that exception (not a bare cancellation), and the row is freed. */
    @Test
    void aFailingListenerFailsItsRequestWithItsException() throws Exception {
        try (BatchEngine engine = medqa.newEngine(1, 1)) {
            BatchEngine.Request bad = engine.submit(new int[] {1, 2, 3}, greedy(5), null, (id, t) -> {
                throw new IllegalStateException("the handler broke");
            });
            assertThatThrownBy(() -> bad.result().get(30, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("the handler broke");
            assertThat(engine.submit(new int[] {1, 2, 3}, greedy(2), null, null)
                            .result()
                            .get(30, TimeUnit.SECONDS)
                            .tokens())
                    .hasSize(2);
        }
    }

    @Test
    void cancellingFreesTheRowAndTheQueueRefusesWhenFull() throws Exception {
        try (BatchEngine engine = medqa.newEngine(1, 1)) {
            CountDownLatch first = new CountDownLatch(1);
            BatchEngine.Request running =
                    engine.submit(new int[] {1, 2, 3}, greedy(40), null, (id, t) -> first.countDown());
            assertThat(first.await(30, TimeUnit.SECONDS)).isTrue();
            BatchEngine.Request waiting = engine.submit(prompt, greedy(5), "all", null);
            assertThatThrownBy(() -> engine.submit(prompt, greedy(5), null, null))
                    .isInstanceOf(BatchEngine.QueueFullException.class)
                    .hasMessageContaining("queue is full");
            running.cancel();
            assertThatThrownBy(() -> running.result().get(30, TimeUnit.SECONDS))
                    .isInstanceOf(CancellationException.class);
            // The freed row serves the waiting request.
            assertThat(waiting.result().get(30, TimeUnit.SECONDS).tokens())
                    .containsExactly(Arrays.copyOf(adapterGreedy("all"), 5));
            assertThat(engine.running()).isZero();
            assertThat(engine.queued()).isZero();
        }
    }

    @Test
    void badRequestsAreRefusedAtSubmit() {
        try (BatchEngine engine = medqa.newEngine(2, 2)) {
            assertThatThrownBy(() -> engine.submit(prompt, greedy(3), "nope", null))
                    .hasMessageContaining("nope");
            assertThatThrownBy(() -> engine.submit(new int[0], greedy(3), null, null))
                    .hasMessageContaining("no tokens");
            assertThatThrownBy(() -> engine.submit(new int[64], greedy(3), null, null))
                    .hasMessageContaining("max_position_embeddings");
        }
        try (BatchEngine unbounded = medqa.newEngine(4, Integer.MAX_VALUE)) {
            assertThat(unbounded
                            .submit(prompt, greedy(2), null, null)
                            .result()
                            .join()
                            .tokens())
                    .hasSize(2);
        }
    }

    @Test
    void nativeMemoryIsReleasedAfterEveryRequest() throws Exception {
        int before = medqa.model().manager().getManagedArrays().size();
        try (BatchEngine engine = medqa.newEngine(4, 64)) {
            List<BatchEngine.Request> requests = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                requests.add(engine.submit(
                        Arrays.copyOf(prompt, 3 + i % 10), greedy(4 + i % 7), i % 3 == 0 ? "all" : null, null));
            }
            for (BatchEngine.Request r : requests) {
                r.result().get(60, TimeUnit.SECONDS);
            }
            assertThat(engine.forwardPasses()).isGreaterThan(24);
        }
        assertThat(medqa.model().manager().getManagedArrays())
                .as("arrays left on the model's manager")
                .hasSize(before);
    }
}
