package ai.medqa.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fused TorchScript step against the op-by-op layers on the same loaded model: both repeat the
 * same operations in the same order, so F32 logits agree within 1e-5 for prefill (causal and
 * sliding-window masks), single-token decode (no mask, window by slicing the cache), decode past
 * model C's window of 6, and a left-padded batch.
 */
class FusedDecoderTest {
    private static final double F32_TOLERANCE = 1e-5;

    @ParameterizedTest
    @ValueSource(strings = {"llama-rc/A", "llama-rc/B", "mistral-swa"})
    void fusedLogitsEqualOpByOpForPrefillAndDecode(String model) {
        Golden golden = Golden.read(Golden.fixture(model + "/golden.json"));
        try (MistralModel m = load(model + "/f32", DataType.FLOAT32)) {
            assertThat(m.fusedActive()).as("all projections dense: fused").isTrue();
            for (Golden.Case c : golden.cases()) {
                // 30 decode steps: model C (window 6, 24-token prompt) decodes far beyond its window.
                float[][] fused = run(m, true, new int[][] {c.prompt()}, 30);
                float[][] opByOp = run(m, false, new int[][] {c.prompt()}, 30);
                assertThat(Logits.maxAbsDiff(fused, opByOp))
                        .as("%s prompt %d: fused vs op-by-op", model, c.prompt().length)
                        .isLessThanOrEqualTo(F32_TOLERANCE);
                // And the fused path is the model: its prompt logits still meet the golden.
                ForwardFidelityTest.assertClose(Logits.prefillAll(m, c.prompt()), c.promptLogits(),
                        model.equals("llama-rc/B") ? 2e-3 : 1e-3, model + " fused prefill vs golden");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-rc/B", "mistral-swa"})
    void leftPaddedBatchMatches(String model) {
        int[][] rows = {{1, 17, 42, 7, 99, 3, 11, 5, 8, 60}, {0, 0, 0, 0, 1, 23, 5, 77, 13, 2}};
        try (MistralModel m = load(model + "/f32", DataType.FLOAT32)) {
            float[][] fused = runPadded(m, true, rows, new int[] {0, 4}, 12);
            float[][] opByOp = runPadded(m, false, rows, new int[] {0, 4}, 12);
            assertThat(Logits.maxAbsDiff(fused, opByOp)).as("%s padded batch", model)
                    .isLessThanOrEqualTo(F32_TOLERANCE);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-rc/A", "mistral-swa"})
    void f16FusedMatchesF16OpByOp(String model) {
        Golden golden = Golden.read(Golden.fixture(model + "/golden.json"));
        try (MistralModel m = load(model + "/f16", DataType.FLOAT16)) {
            for (Golden.Case c : golden.cases()) {
                float[][] fused = run(m, true, new int[][] {c.prompt()}, 20);
                float[][] opByOp = run(m, false, new int[][] {c.prompt()}, 20);
                // Same half-precision operations in the same order (measured: bit-identical on CPU);
                // a few F16 ulps of a logit allowed should another device's kernels pick another
                // summation order for another call pattern.
                assertThat(Logits.maxAbsDiff(fused, opByOp)).as("%s F16 fused vs op-by-op", model)
                        .isLessThanOrEqualTo(0.05);
            }
        }
    }

    @Test
    void aWrappedProjectionFallsBackForItsLayerOnly() {
        Golden.Case c = Golden.read(Golden.fixture("llama-rc/A/golden.json")).cases().get(2);
        try (MistralModel m = load("llama-rc/A/f32", DataType.FLOAT32)) {
            float[][] reference = run(m, false, new int[][] {c.prompt()}, 10);
            AtomicInteger calls = new AtomicInteger();
            // A LoRA-style decorator that changes nothing but is not a DenseLinear.
            m.mapLinears((name, l) -> name.equals("model.layers.2.mlp.up_proj") ? new Counting(l, calls) : l);
            assertThat(m.fusedActive()).as("layers 0-1 and 3-4 still fused").isTrue();
            long before = m.fusedCalls();
            float[][] mixed = run(m, true, new int[][] {c.prompt()}, 10);
            assertThat(m.fusedCalls() - before).as("two fused runs per step").isEqualTo(2 * 11);
            assertThat(calls.get()).as("the wrapped projection ran once per step").isEqualTo(11);
            assertThat(Logits.maxAbsDiff(mixed, reference)).isLessThanOrEqualTo(F32_TOLERANCE);

            m.mapLinears((name, l) -> name.contains(".q_proj") ? new Counting(l, calls) : l);
            assertThat(m.fusedActive()).as("no layer left with only dense projections").isFalse();
            calls.set(0);
            before = m.fusedCalls();
            float[][] none = run(m, true, new int[][] {c.prompt()}, 10);
            assertThat(m.fusedCalls()).isEqualTo(before);
            assertThat(calls.get()).isEqualTo(11 * (5 + 1));
            assertThat(Logits.maxAbsDiff(none, reference)).isLessThanOrEqualTo(F32_TOLERANCE);
        }
    }

    @Test
    void switchedOffByTheSystemProperty() {
        String before = System.getProperty(FusedDecoder.PROPERTY);
        System.setProperty(FusedDecoder.PROPERTY, "false");
        try (MistralModel m = load("llama-rc/A/f32", DataType.FLOAT32)) {
            assertThat(m.fusedActive()).isFalse();
            run(m, true, new int[][] {{1, 2, 3}}, 2);
            assertThat(m.fusedCalls()).isZero();
        } finally {
            if (before == null) {
                System.clearProperty(FusedDecoder.PROPERTY);
            } else {
                System.setProperty(FusedDecoder.PROPERTY, before);
            }
        }
    }

    @Test
    void decodeStepsLeaveNoArraysBehind() {
        try (MistralModel m = load("mistral-swa/f32", DataType.FLOAT32)) {
            run(m, true, new int[][] {{1, 2, 3}}, 5);
            int before = m.manager().getManagedArrays().size();
            run(m, true, new int[][] {{1, 2, 3}}, 40);
            assertThat(m.manager().getManagedArrays()).hasSize(before);
        }
    }

    @Test
    void archiveHoldsTheScriptSource() throws IOException {
        byte[] zip = TorchScript.archive("FusedDecoder", FusedDecoder.source());
        assertThat(zip.length).isGreaterThan(FusedDecoder.source().length());
    }

    private static MistralModel load(String fixture, DataType dtype) {
        Path dir = Golden.fixture(fixture);
        return MistralModel.load(dir, Device.cpu(), dtype, LinearFactory.DENSE);
    }

    /** Logits of a prefill of {@code prompt} (every position) then {@code steps} single-token steps. */
    static float[][] run(MistralModel m, boolean fused, int[][] prompt, int steps) {
        return runPadded(m, fused, prompt, new int[prompt.length], steps);
    }

    static float[][] runPadded(MistralModel m, boolean fused, int[][] prompt, int[] padLeft, int steps) {
        m.setFused(fused);
        long callsBefore = m.fusedCalls();
        try (KvCache cache = m.newCache(padLeft, prompt[0].length + steps)) {
            float[][] out = new float[steps + 1][];
            try (NDScope scope = new NDScope()) {
                out[0] = m.forward(prompt, cache, true).toFloatArray();
            }
            for (int s = 0; s < steps; s++) {
                int[][] feed = new int[prompt.length][];
                for (int r = 0; r < feed.length; r++) {
                    feed[r] = new int[] {1 + (s * 31 + r * 7) % (m.config().vocabSize() - 1)};
                }
                try (NDScope scope = new NDScope()) {
                    out[s + 1] = m.forward(feed, cache, false).toFloatArray();
                }
            }
            if (!fused) {
                assertThat(m.fusedCalls()).as("op-by-op run made no script calls").isEqualTo(callsBefore);
            } else if (m.fusedActive()) {
                assertThat(m.fusedCalls()).as("every step called the script").isGreaterThanOrEqualTo(callsBefore + steps + 1);
            }
            return out;
        } finally {
            m.setFused(true);
        }
    }

    /** Delegates to a projection and counts calls: stands in for a LoRA or quantized wrapper. */
    private record Counting(Linear inner, AtomicInteger calls) implements Linear {
        @Override
        public long inFeatures() {
            return inner.inFeatures();
        }

        @Override
        public long outFeatures() {
            return inner.outFeatures();
        }

        @Override
        public NDArray forward(NDArray x) {
            calls.incrementAndGet();
            return inner.forward(x);
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
