package ai.medqa.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import ai.medqa.common.Json;
import ai.medqa.lora.LoraAdapters;
import ai.medqa.model.internal.DecoderStep;
import ai.medqa.quant.LmHead;
import ai.medqa.quant.Quantization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fused TorchScript step against the op-by-op layers on the same loaded model: both repeat the
 * same operations in the same order, so F32 logits agree within 1e-5 for prefill (causal and
 * sliding-window masks), single-token decode (no mask, window by slicing the cache), decode past
 * model C's window of 6, and a left-padded batch; for every weight format (dense, NF4, INT8, INT4)
 * with and without LoRA adapters, switched per request.
 */
class DecoderStepTest {
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
                ForwardFidelityTest.assertClose(
                        Logits.prefillAll(m, c.prompt()),
                        c.promptLogits(),
                        model.equals("llama-rc/B") ? 2e-3 : 1e-3,
                        model + " fused prefill vs golden");
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
            assertThat(Logits.maxAbsDiff(fused, opByOp))
                    .as("%s padded batch", model)
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
                assertThat(Logits.maxAbsDiff(fused, opByOp))
                        .as("%s F16 fused vs op-by-op", model)
                        .isLessThanOrEqualTo(0.05);
            }
        }
    }

    /** Every format and LoRA combination the op-by-op path can express, on model C (sliding window). */
    @ParameterizedTest
    @CsvSource({
        "F32,NONE,COMPUTE",
        "F32,NF4,COMPUTE",
        "F32,INT8,COMPUTE",
        "F32,INT4,COMPUTE",
        "F32,INT4,INT8",
        "F32,NONE,INT4",
        "F16,NONE,COMPUTE",
        "F16,NF4,COMPUTE",
        "F16,INT4,INT8",
        "BF16,NONE,COMPUTE",
        "BF16,INT8,INT4"
    })
    void everyFormatWithAndWithoutAdaptersEqualsOpByOp(String precision, String quantization, LmHead head) {
        DataType dtype = precision.equals("F16") ? DataType.FLOAT16 : DataType.FLOAT32;
        // F32: the same operations in the same order. F16: as f16FusedMatchesF16OpByOp. Float32
        // layers whose products round to bfloat16 (INT4, INT8, BF16) attend to their prompt with
        // PyTorch's fused attention, which sums in another order (fusedAttentionEqualsTheThreePasses);
        // bfloat16 roundings then flip, and the paths may part by as much as transformers' own
        // bfloat16 run parts from float32 on this model (golden_packed_transformers.json), the bound
        // PackedKernelFidelityTest holds the fused path to against the float32 reference.
        String rounding = precision.equals("BF16") && quantization.equals("NONE")
                ? "bf16"
                : quantization.equals("INT4") ? "int4" : quantization.equals("INT8") ? "int8" : null;
        double tolerance = dtype != DataType.FLOAT32
                ? 0.05
                : rounding == null ? F32_TOLERANCE : transformersBf16Error("mistral-swa", rounding);
        Golden.Case c =
                Golden.read(Golden.fixture("mistral-swa/golden.json")).cases().get(0);
        try (MistralModel m = MistralModel.load(
                Golden.fixture("mistral-swa/" + (dtype == DataType.FLOAT32 ? "f32" : "f16")),
                Device.cpu(),
                dtype,
                precision.equals("BF16")
                        ? Bf16Linear.converting(
                                Quantization.valueOf(quantization).linears(64, head))
                        : Quantization.valueOf(quantization).linears(64, head))) {
            assertThat(m.fusedActive()).as("fused").isTrue();
            float[][] plain = run(m, true, new int[][] {c.prompt()}, 12);
            assertThat(Logits.maxAbsDiff(plain, run(m, false, new int[][] {c.prompt()}, 12)))
                    .as("%s %s without adapters", precision, quantization)
                    .isLessThanOrEqualTo(tolerance);

            LoraAdapters lora = LoraAdapters.of(m);
            lora.load(Golden.fixture("lora/C-qv"), "qv");
            lora.load(Golden.fixture("lora/C-all"), "all");
            float[][] previous = plain;
            for (String adapter : new String[] {"qv", "all", null, "all"}) {
                lora.activate(adapter);
                assertThat(m.fusedActive()).as("fused with adapter %s", adapter).isTrue();
                float[][] fused = run(m, true, new int[][] {c.prompt()}, 12);
                assertThat(Logits.maxAbsDiff(fused, run(m, false, new int[][] {c.prompt()}, 12)))
                        .as("%s %s adapter %s", precision, quantization, adapter)
                        .isLessThanOrEqualTo(tolerance);
                if (adapter == null) {
                    assertThat(Logits.maxAbsDiff(fused, plain))
                            .as("adapter off = no adapter")
                            .isLessThanOrEqualTo(tolerance);
                } else {
                    assertThat(Logits.maxAbsDiff(fused, previous))
                            .as("switching to %s changed the logits", adapter)
                            .isGreaterThan(1e-3);
                }
                previous = fused;
            }
        }
    }

    @Test
    void readingOrSwitchingAdaptersKeepsThePlanAttachingOrRemovingRebuildsIt() {
        Golden.Case c =
                Golden.read(Golden.fixture("mistral-swa/golden.json")).cases().get(0);
        try (MistralModel m = load("mistral-swa/f32", DataType.FLOAT32)) {
            LoraAdapters lora = LoraAdapters.of(m);
            lora.load(Golden.fixture("lora/C-qv"), "qv");
            lora.activate("qv");
            run(m, true, new int[][] {c.prompt()}, 2);
            long builds = m.planBuilds();
            for (int i = 0; i < 5; i++) {
                lora.active();
                lora.adapters();
                m.projections();
            }
            run(m, true, new int[][] {c.prompt()}, 2);
            assertThat(m.planBuilds()).as("reads rebuilt the plan").isEqualTo(builds);
            // The plan holds every attached adapter; rows pick theirs per call: switching is not a change.
            lora.activate(null);
            run(m, true, new int[][] {c.prompt()}, 2);
            lora.activate("qv");
            run(m, true, new int[][] {c.prompt()}, 2);
            assertThat(m.planBuilds()).as("switching adapters rebuilt the plan").isEqualTo(builds);
            lora.load(Golden.fixture("lora/C-all"), "all");
            run(m, true, new int[][] {c.prompt()}, 2);
            assertThat(m.planBuilds())
                    .as("attaching an adapter rebuilds it once")
                    .isEqualTo(builds + 1);
            lora.remove("all");
            run(m, true, new int[][] {c.prompt()}, 2);
            assertThat(m.planBuilds()).as("removing one rebuilds it once").isEqualTo(builds + 2);
            assertThat(m.projections())
                    .hasSize(4 * 7 + 1)
                    .containsKey("model.layers.3.mlp.down_proj")
                    .containsKey("lm_head");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> m.replaceProjection(
                            "model.layers.4.self_attn.q_proj", m.projections().get("lm_head")))
                    .hasMessageContaining("no projection model.layers.4.self_attn.q_proj");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> m.replaceProjection(
                            "model.layers.0.mlp.q_proj", m.projections().get("lm_head")))
                    .hasMessageContaining("no MLP projection q_proj");
        }
    }

    /**
     * The projection kinds are numbers on both sides of the script boundary: each Java constant must
     * select, in decoder_step.py's project(), the product of its own format.
     */
    @Test
    void kindNumbersAgreeWithTheScript() throws Exception {
        String source = DecoderStep.source();
        String project =
                source.substring(source.indexOf("  def project("), source.indexOf("    if torch.len(lora) == 0"));
        java.util.Map<Integer, String> products = new java.util.HashMap<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                        "kind == (\\d+):\\s*\\n\\s*y = (?:torch\\.to\\()?self\\.(\\w+)\\(")
                .matcher(project);
        while (m.find()) {
            products.put(Integer.parseInt(m.group(1)), m.group(2));
        }
        java.util.regex.Matcher otherwise = java.util.regex.Pattern.compile("else:\\s*\\n\\s*y = self\\.(\\w+)\\(")
                .matcher(project);
        assertThat(otherwise.find()).as("project() ends with an else branch").isTrue();
        assertThat(products)
                .containsEntry(DecoderStep.DENSE, "dense_mm")
                .containsEntry(DecoderStep.INT4, "int4_mm")
                .containsEntry(DecoderStep.INT8, "int8_mm")
                .containsEntry(DecoderStep.BF16, "bf16_mm")
                .hasSize(4)
                .doesNotContainKey(DecoderStep.NF4);
        assertThat(otherwise.group(1))
                .as("the remaining kind, NF4 (%d)", DecoderStep.NF4)
                .isEqualTo("nf4_mm");
        assertThat(java.util.Set.of(
                        DecoderStep.DENSE, DecoderStep.INT4, DecoderStep.INT8, DecoderStep.NF4, DecoderStep.BF16))
                .as("five distinct kinds")
                .hasSize(5);
    }

    @Test
    void mergedAdaptersRunAsDenseWeights() {
        Golden.Case c =
                Golden.read(Golden.fixture("mistral-swa/golden.json")).cases().get(0);
        try (MistralModel m = load("mistral-swa/f32", DataType.FLOAT32)) {
            LoraAdapters lora = LoraAdapters.of(m);
            lora.load(Golden.fixture("lora/C-all"), "all");
            lora.activate("all");
            float[][] unmerged = run(m, true, new int[][] {c.prompt()}, 8);
            lora.merge();
            float[][] merged = run(m, true, new int[][] {c.prompt()}, 8);
            assertThat(Logits.maxAbsDiff(merged, run(m, false, new int[][] {c.prompt()}, 8)))
                    .isLessThanOrEqualTo(F32_TOLERANCE);
            // Merged vs unmerged differ only by rounding (LoraAdaptersTest holds model C to 1e-3).
            assertThat(Logits.maxAbsDiff(merged, unmerged)).isLessThanOrEqualTo(1e-3);
            lora.unmerge();
            assertThat(Logits.maxAbsDiff(run(m, true, new int[][] {c.prompt()}, 8), unmerged))
                    .isLessThanOrEqualTo(1e-3);
        }
    }

    @Test
    void aProjectionWithoutAFusedFormSendsTheStepOpByOp() {
        Golden.Case c =
                Golden.read(Golden.fixture("llama-rc/A/golden.json")).cases().get(2);
        try (MistralModel m = load("llama-rc/A/f32", DataType.FLOAT32)) {
            float[][] reference = run(m, false, new int[][] {c.prompt()}, 10);
            AtomicInteger calls = new AtomicInteger();
            // A decorator that changes nothing but cannot describe itself to the step.
            m.mapLinears((name, l) -> name.equals("model.layers.2.mlp.up_proj") ? new Counting(l, calls) : l);
            assertThat(m.fusedActive()).isFalse();
            long before = m.fusedCalls();
            float[][] opByOp = run(m, true, new int[][] {c.prompt()}, 10);
            assertThat(m.fusedCalls()).isEqualTo(before);
            assertThat(calls.get())
                    .as("the wrapped projection ran once per step")
                    .isEqualTo(11);
            assertThat(Logits.maxAbsDiff(opByOp, reference)).isLessThanOrEqualTo(F32_TOLERANCE);

            m.mapLinears((name, l) -> l instanceof Counting counting ? counting.inner() : l);
            assertThat(m.fusedActive())
                    .as("fused again once every projection has a form")
                    .isTrue();
            assertThat(Logits.maxAbsDiff(run(m, true, new int[][] {c.prompt()}, 10), reference))
                    .isLessThanOrEqualTo(F32_TOLERANCE);
        }
    }

    @Test
    void switchedOffByTheSystemProperty() {
        String before = System.getProperty(DecoderStep.PROPERTY);
        System.setProperty(DecoderStep.PROPERTY, "false");
        try (MistralModel m = load("llama-rc/A/f32", DataType.FLOAT32)) {
            assertThat(m.fusedActive()).isFalse();
            run(m, true, new int[][] {{1, 2, 3}}, 2);
            assertThat(m.fusedCalls()).isZero();
        } finally {
            if (before == null) {
                System.clearProperty(DecoderStep.PROPERTY);
            } else {
                System.setProperty(DecoderStep.PROPERTY, before);
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

    /**
     * The script's two ways to attend, its fused kernel (prefill of layers whose products round to
     * bfloat16) and the three passes Attention.forward makes, are one formula: on random float32
     * queries, keys and values they agree within 1e-5 (outputs of size ~1) under a causal prompt
     * mask, a continued prompt (keys before the queries), left padding (query rows that see no key at
     * all) and a sliding window, with 3 query heads per key head; and a mask that ignores the groups
     * is caught.
     */
    @Test
    void fusedAttentionEqualsTheThreePasses() {
        int b = 2;
        int kv = 2;
        int groups = 3;
        int d = 16;
        float masked = -Float.MAX_VALUE;
        Random random = new Random(7);
        // {T, keys, padding of row 1, window}
        int[][] cases = {{9, 9, 0, 0}, {5, 12, 0, 0}, {7, 7, 3, 0}, {10, 10, 0, 4}, {6, 11, 2, 5}};
        try (NDManager nd = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            for (int[] c : cases) {
                int t = c[0];
                int keys = c[1];
                float[] bias = new float[b * t * keys];
                for (int r = 0; r < b; r++) {
                    int pad = r == 1 ? c[2] : 0;
                    for (int qi = 0; qi < t; qi++) {
                        int i = keys - t + qi; // the query's slot
                        for (int j = 0; j < keys; j++) {
                            boolean visible = j <= i && j >= pad && (c[3] == 0 || i - j < c[3]);
                            bias[(r * t + qi) * keys + j] = visible ? 0f : masked;
                        }
                    }
                }
                NDArray q = nd.create(gaussian(random, b * kv * groups * t * d), new Shape(b * kv, groups * t, d));
                NDArray k = nd.create(gaussian(random, b * kv * keys * d), new Shape(b * kv, keys, d));
                NDArray v = nd.create(gaussian(random, b * kv * keys * d), new Shape(b * kv, keys, d));
                NDArray mask = nd.create(bias, new Shape(b, 1, 1, t, keys));
                float[] three = attend(q, k, v, mask, nd.create(new float[0]), b, t, false);
                float[] fast = attend(q, k, v, mask, nd.create(new float[0]), b, t, true);
                double diff = 0;
                for (int i = 0; i < three.length; i++) {
                    diff = Math.max(diff, Math.abs(three[i] - fast[i]));
                }
                assertThat(diff)
                        .as("T %d, keys %d, padding %d, window %d", t, keys, c[2], c[3])
                        .isLessThanOrEqualTo(1e-5);
                // Query rows are g * T + position: a mask folded position-major (each position's row
                // repeated for its groups, position * groups + g) gives rows the wrong masks.
                NDArray wrong = mask.reshape(b, 1, t, keys).repeat(2, groups);
                float[] misfolded = attend(q, k, v, mask, wrong, b, t, true);
                double off = 0;
                for (int i = 0; i < three.length; i++) {
                    off = Math.max(off, Math.abs(three[i] - misfolded[i]));
                }
                assertThat(off).as("mask folded position-major").isGreaterThan(0.1);
            }
        }
    }

    private static float[] attend(
            NDArray q, NDArray k, NDArray v, NDArray bias, NDArray folded, int b, int t, boolean fast) {
        List<IValue> args = List.of(
                IValue.from((PtNDArray) q),
                IValue.from((PtNDArray) k),
                IValue.from((PtNDArray) v),
                IValue.from((PtNDArray) bias),
                IValue.from((PtNDArray) folded),
                IValue.from((long) b),
                IValue.from((long) t),
                IValue.from(0.25),
                IValue.from(fast));
        try {
            return DecoderStep.script()
                    .call(q.getManager(), "attend", args.toArray(new IValue[0]))
                    .toFloatArray();
        } finally {
            args.forEach(IValue::close);
        }
    }

    private static float[] gaussian(Random random, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) random.nextGaussian();
        }
        return a;
    }

    /** transformers' bfloat16 run against its float32 run of the same weights (tools/make_packed_golden.py). */
    private static double transformersBf16Error(String model, String format) {
        try {
            return Json.MAPPER
                    .readTree(Golden.fixture("golden_packed_transformers.json").toFile())
                    .get("models")
                    .get(model)
                    .get(format)
                    .get("cases")
                    .get(0)
                    .get("max_abs_bf16_vs_f32")
                    .asDouble();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
                assertThat(m.fusedCalls())
                        .as("op-by-op run made no script calls")
                        .isEqualTo(callsBefore);
            } else if (m.fusedActive()) {
                assertThat(m.fusedCalls())
                        .as("every step called the script")
                        .isGreaterThanOrEqualTo(callsBefore + steps + 1);
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
