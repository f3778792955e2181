package ai.medqa.lora;

import static ai.medqa.model.Logits.floats2;
import static ai.medqa.model.Logits.maxAbsDiff;
import static ai.medqa.model.Logits.prefillAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.medqa.io.DType;
import ai.medqa.io.SafetensorsFile;
import ai.medqa.io.SafetensorsWriter;
import ai.medqa.io.TensorData;
import ai.medqa.model.DenseLinear;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.Logits;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adapters on model C: identity at B = 0, unmerged equals merged, switching per request, merge and
 * unmerge, refusals that name the key, and the PEFT save/load round trip.
 */
class LoraAdaptersTest {
    private static final List<String> ALL_SEVEN =
            List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    @TempDir
    Path tmp;

    @Test
    void zeroBLeavesLogitsUnchanged() {
        try (MistralModel m = LoraFixtures.modelC()) {
            float[][] base = prefillAll(m, LoraFixtures.prompt());
            List<String> targets = new java.util.ArrayList<>(ALL_SEVEN);
            targets.add("lm_head");
            LoraAdapter fresh = LoraAdapter.create(m, "fresh", LoraConfig.of(8, 16, 0.05, targets), 7);
            assertThat(fresh.weights()).hasSize(4 * 7 + 1);
            LoraAdapters lora = LoraAdapters.of(m);
            lora.attach(fresh);
            lora.activate("fresh");
            double diff = maxAbsDiff(prefillAll(m, LoraFixtures.prompt()), base);
            System.out.printf("LoRA B = 0: max |logit - base| = %s%n", diff);
            assertThat(diff)
                    .as("A is random, B is zero: the adapter adds exactly 0")
                    .isZero();
        }
    }

    /**
     * Issue 6: a random adapter applied unmerged equals the merged F32 model to 1e-5. Both paths
     * differ only by float32 rounding, so the figure depends on the model's conditioning: on a
     * random model with O(1) logits (RandomCheckpoint) the bound holds; on model C, whose logits
     * reach ~50 and amplify rounding, the gap is ~2e-4, the same as PEFT's own (3e-4 in golden.json).
     */
    @Test
    void randomAdapterUnmergedEqualsMergedF32() {
        Path dir = tmp.resolve("random-model");
        RandomCheckpoint.write(dir, RandomCheckpoint.config(64, 172, 4, 4, 2, 256, 64, 6), DType.F32, 5);
        try (MistralModel m = MistralModel.load(dir, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
            double[] figures = unmergedVsMerged(m);
            System.out.printf(
                    "LoRA random adapter, random O(1) model: max |unmerged - merged| = %.3g"
                            + " (adapter moves logits by %.3g, max |logit| %.3g)%n",
                    figures[0], figures[1], figures[2]);
            assertThat(figures[1]).as("the adapter matters").isGreaterThan(0.1);
            assertThat(figures[0]).isLessThanOrEqualTo(1e-5);
        }
        try (MistralModel m = LoraFixtures.modelC()) {
            double[] figures = unmergedVsMerged(m);
            System.out.printf(
                    "LoRA random adapter, model C: max |unmerged - merged| = %.3g"
                            + " (adapter moves logits by %.3g, max |logit| %.3g)%n",
                    figures[0], figures[1], figures[2]);
            assertThat(figures[0]).isLessThanOrEqualTo(1e-3);
        }
    }

    /** {max |unmerged - merged|, max |unmerged - base|, max |logit|} for a random all-projection adapter. */
    private static double[] unmergedVsMerged(MistralModel m) {
        float[][] base = prefillAll(m, LoraFixtures.prompt());
        LoraAdapters lora = LoraAdapters.of(m);
        lora.attach(randomAdapter(m, "random", LoraConfig.of(4, 8, 0.0, ALL_SEVEN), 11, 0.05f));
        lora.activate("random");
        float[][] unmerged = prefillAll(m, LoraFixtures.prompt());
        lora.merge();
        assertThat(lora.merged()).contains("random");
        float[][] merged = prefillAll(m, LoraFixtures.prompt());
        double maxLogit = 0;
        for (float[] row : unmerged) {
            for (float v : row) {
                maxLogit = Math.max(maxLogit, Math.abs(v));
            }
        }
        return new double[] {maxAbsDiff(unmerged, merged), maxAbsDiff(unmerged, base), maxLogit};
    }

    @Test
    void switchingAdaptersBetweenRequestsGivesEachItsOwnOutput() {
        JsonNode golden = LoraFixtures.golden().get("adapters");
        float[][] baseGolden = floats2(
                LoraFixtures.json("mistral-swa/golden.json").get("cases").get(0).get("prompt_logits"));
        int[] prompt = LoraFixtures.prompt();
        try (MistralModel m = LoraFixtures.modelC()) {
            LoraAdapters lora = LoraAdapters.of(m);
            for (String name : List.of("C-qv", "C-all", "C-rslora")) {
                lora.load(LoraFixtures.fixture("lora/" + name), name);
            }
            assertThat(lora.adapters()).containsOnlyKeys("C-qv", "C-all", "C-rslora");
            assertThat(lora.active()).isEmpty();
            Map<String, float[][]> first = new LinkedHashMap<>();
            for (String name : new String[] {null, "C-qv", "C-all", "C-rslora", "C-qv", null, "C-all", "C-rslora"}) {
                lora.activate(name);
                float[][] logits = prefillAll(m, prompt);
                float[][] expected =
                        name == null ? baseGolden : floats2(golden.get(name).get("prompt_logits"));
                assertThat(maxAbsDiff(logits, expected))
                        .as("request with %s", name)
                        .isLessThanOrEqualTo(1e-3);
                int[] greedy = Logits.greedy(m, prompt, 20);
                if (name != null) {
                    assertThat(greedy)
                            .as("greedy with %s", name)
                            .containsExactly(Logits.ints(golden.get(name).get("greedy")));
                }
                float[][] before = first.putIfAbsent(String.valueOf(name), logits);
                if (before != null) {
                    assertThat(maxAbsDiff(logits, before)).as("%s again", name).isZero();
                }
            }
        }
    }

    @Test
    void unmergeRestoresTheBaseF32() {
        try (MistralModel m = LoraFixtures.modelC()) {
            float[][] base = prefillAll(m, LoraFixtures.prompt());
            LoraAdapters lora = LoraAdapters.of(m);
            lora.load(LoraFixtures.fixture("lora/C-all"), "all");
            lora.activate("all");
            Map<String, float[]> before = baseWeights(m);
            lora.merge();
            double moved = maxDiff(baseWeights(m), before);
            lora.unmerge();
            double weightError = maxDiff(baseWeights(m), before);
            lora.activate(null);
            double logitError = maxAbsDiff(prefillAll(m, LoraFixtures.prompt()), base);
            System.out.printf(
                    "LoRA F32 unmerge: max |W - W0| = %.3g (merge moved W by %.3g), max logit error %.3g%n",
                    weightError, moved, logitError);
            assertThat(moved).isGreaterThan(1e-2);
            // Stated tolerance: one float32 ulp of the merged weights (|W| < 2 here: ulp 2.4e-7).
            assertThat(weightError).isLessThanOrEqualTo(2.4e-7);
            // Model C's peaky logits (|logit| up to ~50) turn 1e-8 weight changes into ~1e-4 (PEFT's own
            // merged-vs-unmerged gap on it is 3e-4); the goldens' 1e-3 is the yardstick.
            assertThat(logitError).isLessThanOrEqualTo(1e-3);
        }
    }

    @Test
    void unmergeRestoresTheBaseF16WithinOneF16Ulp() {
        try (MistralModel m = LoraFixtures.modelC("f16", DataType.FLOAT16)) {
            float[][] base = prefillAll(m, LoraFixtures.prompt());
            LoraAdapters lora = LoraAdapters.of(m);
            lora.load(LoraFixtures.fixture("lora/C-all"), "all");
            lora.activate("all");
            Map<String, float[]> before = baseWeights(m);
            lora.merge();
            Map<String, float[]> merged = baseWeights(m);
            lora.unmerge();
            Map<String, float[]> after = baseWeights(m);
            // Stated tolerance: merging rounds W0 + dW to F16 and unmerging rounds W' - dW again: two
            // half-ulp roundings, so each weight comes back within one F16 ulp of max(|W0|, |W'|).
            double worst = 0;
            int changed = 0;
            for (String k : before.keySet()) {
                float[] w0 = before.get(k);
                float[] w1 = merged.get(k);
                float[] w2 = after.get(k);
                for (int i = 0; i < w0.length; i++) {
                    worst = Math.max(
                            worst, Math.abs(w2[i] - w0[i]) / f16Ulp(Math.max(Math.abs(w0[i]), Math.abs(w1[i]))));
                    changed += w2[i] != w0[i] ? 1 : 0;
                }
            }
            lora.activate(null);
            double logitError = maxAbsDiff(prefillAll(m, LoraFixtures.prompt()), base);
            System.out.printf(
                    "LoRA F16 unmerge: worst |W - W0| = %.2f F16 ulps, %d weights changed, max logit error %.3g%n",
                    worst, changed, logitError);
            assertThat(worst).as("worst error in F16 ulps").isLessThanOrEqualTo(1.0);
            assertThat(logitError).isLessThanOrEqualTo(0.5);
        }
    }

    /** Spacing of float16 numbers at {@code v}: 2^(exponent - 10), and 2^-24 among the subnormals. */
    static double f16Ulp(float v) {
        return Math.abs(v) < 0x1p-14f ? 0x1p-24 : Math.ulp(v) * 8192.0;
    }

    @Test
    void removeGivesThePlainProjectionsBack() {
        try (MistralModel m = LoraFixtures.modelC()) {
            float[][] base = prefillAll(m, LoraFixtures.prompt());
            LoraAdapters lora = LoraAdapters.of(m);
            lora.load(LoraFixtures.fixture("lora/C-qv"), "qv");
            lora.load(LoraFixtures.fixture("lora/C-all"), "all");
            lora.activate("qv");
            lora.merge();
            lora.remove("qv");
            assertThat(lora.merged()).isEmpty();
            assertThat(lora.active()).isEmpty();
            assertThat(maxAbsDiff(prefillAll(m, LoraFixtures.prompt()), base)).isLessThanOrEqualTo(1e-3);
            lora.remove("all");
            int[] wrapped = {0};
            m.mapLinears((name, l) -> {
                wrapped[0] += l instanceof LoraLinear ? 1 : 0;
                return l;
            });
            assertThat(wrapped[0]).isZero();
            assertThat(lora.adapters()).isEmpty();
        }
    }

    @Test
    void saveThenLoadIsBitIdentical() throws Exception {
        Path out = tmp.resolve("saved");
        try (MistralModel m = LoraFixtures.modelC()) {
            for (String name : List.of("C-qv", "C-all", "C-rslora")) {
                Path source = LoraFixtures.fixture("lora/" + name);
                try (LoraAdapter original = LoraAdapter.read(m, source, name)) {
                    original.save(out.resolve(name));
                    try (LoraAdapter again = LoraAdapter.read(m, out.resolve(name), name);
                            SafetensorsFile peft = SafetensorsFile.open(source.resolve(LoraAdapter.WEIGHTS_FILE));
                            SafetensorsFile ours =
                                    SafetensorsFile.open(out.resolve(name).resolve(LoraAdapter.WEIGHTS_FILE))) {
                        assertThat(again.config()).isEqualTo(original.config());
                        assertThat(again.tensors()).isEqualTo(original.tensors());
                        assertThat(ours.tensors().keySet())
                                .isEqualTo(peft.tensors().keySet());
                        for (String key : peft.tensors().keySet()) {
                            assertThat(ours.raw(key))
                                    .as("%s bytes of %s", name, key)
                                    .isEqualTo(peft.raw(key));
                        }
                        assertThat(ours.metadata()).containsEntry("format", "pt");
                    }
                }
            }
            try (var files = Files.list(out.resolve("C-qv"))) {
                assertThat(files.map(p -> p.getFileName().toString()))
                        .containsExactlyInAnyOrder("adapter_config.json", "adapter_model.safetensors");
            }
            // The saved folder works as an adapter.
            LoraAdapter.apply(m, out.resolve("C-qv"), "qv");
            assertThat(maxAbsDiff(
                            prefillAll(m, LoraFixtures.prompt()),
                            floats2(LoraFixtures.golden()
                                    .get("adapters")
                                    .get("C-qv")
                                    .get("prompt_logits"))))
                    .isLessThanOrEqualTo(1e-3);
        }
    }

    @Test
    void wrongShapeIsRefusedNamingTheKeyAndExpectedShape() throws Exception {
        try (MistralModel m = LoraFixtures.modelC()) {
            Map<String, TensorData> tensors = fixtureTensors("C-qv");
            String key = "base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight";
            tensors.put(key, TensorData.ofFloats(DType.F32, new long[] {64, 8}, new float[64 * 8]));
            Path dir = writeAdapter("bad-shape", "C-qv", tensors);
            assertThatThrownBy(() -> LoraAdapters.of(m).load(dir, "bad"))
                    .isInstanceOf(LoraException.class)
                    .hasMessageContaining(
                            dir.resolve("adapter_model.safetensors").toString())
                    .hasMessageContaining(key)
                    .hasMessageContaining("has shape [64, 8]; expected [32, 8]");
            assertThat(LoraAdapters.of(m).adapters()).isEmpty();
        }
    }

    @Test
    void targetsTheModelDoesNotHaveAreRefusedNamingTheKey() throws Exception {
        try (MistralModel m = LoraFixtures.modelC()) {
            LoraConfig qv = LoraConfig.load(LoraFixtures.fixture("lora/C-qv"));

            Map<String, TensorData> layer7 = fixtureTensors("C-qv");
            String missingLayer = "base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight";
            layer7.put(missingLayer, TensorData.ofFloats(DType.F32, new long[] {8, 64}, new float[8 * 64]));
            assertThatThrownBy(() -> LoraAdapter.fromTensors(m, "x", qv, layer7, "src"))
                    .isInstanceOf(LoraException.class)
                    .hasMessageContaining(missingLayer)
                    .hasMessageContaining("which the model does not have");

            Map<String, TensorData> untargeted = fixtureTensors("C-qv");
            String kProj = "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight";
            untargeted.put(kProj, TensorData.ofFloats(DType.F32, new long[] {8, 64}, new float[8 * 64]));
            assertThatThrownBy(() -> LoraAdapter.fromTensors(m, "x", qv, untargeted, "src"))
                    .isInstanceOf(LoraException.class)
                    .hasMessageContaining(kProj)
                    .hasMessageContaining("does not target");

            Map<String, TensorData> missing = fixtureTensors("C-qv");
            String gone = "base_model.model.model.layers.3.self_attn.q_proj.lora_B.weight";
            missing.remove(gone);
            assertThatThrownBy(() -> LoraAdapter.fromTensors(m, "x", qv, missing, "src"))
                    .isInstanceOf(LoraException.class)
                    .hasMessageContaining("missing key " + gone)
                    .hasMessageContaining("[64, 8]");

            Map<String, TensorData> strange = fixtureTensors("C-qv");
            strange.put(
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector",
                    strange.values().iterator().next());
            assertThatThrownBy(() -> LoraAdapter.fromTensors(m, "x", qv, strange, "src"))
                    .isInstanceOf(LoraException.class)
                    .hasMessageContaining("lora_magnitude_vector")
                    .hasMessageContaining("is not a LoRA weight");

            LoraConfig nothing = LoraConfig.of(8, 16, 0, List.of("c_attn"));
            assertThatThrownBy(() -> LoraAdapter.create(m, "x", nothing, 1))
                    .isInstanceOf(LoraException.class)
                    .hasMessageContaining("targets no projection")
                    .hasMessageContaining("c_attn");
        }
    }

    @Test
    void namesAreUniqueAndMustExist() {
        try (MistralModel m = LoraFixtures.modelC()) {
            LoraAdapters lora = LoraAdapters.of(m);
            lora.load(LoraFixtures.fixture("lora/C-qv"), "qv");
            assertThatThrownBy(() -> lora.load(LoraFixtures.fixture("lora/C-all"), "qv"))
                    .isInstanceOf(LoraException.class)
                    .hasMessageContaining("already loaded");
            assertThatThrownBy(() -> lora.activate("nope"))
                    .isInstanceOf(LoraException.class)
                    .hasMessageContaining("no adapter named nope");
            assertThatThrownBy(lora::merge).isInstanceOf(LoraException.class).hasMessageContaining("no active adapter");
        }
    }

    /** An adapter with random A and B: A ~ U(+-1/sqrt(in)) as PEFT initialises it, B ~ N(0, bStd^2). */
    static LoraAdapter randomAdapter(MistralModel m, String name, LoraConfig config, long seed, float bStd) {
        Random random = new Random(seed);
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        for (Projection p : Projection.of(m.config())) {
            if (!config.targets(p.module())) {
                continue;
            }
            int r = config.rank(p.module());
            float[] a = new float[(int) (r * p.in())];
            float[] b = new float[(int) (p.out() * r)];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) ((random.nextDouble() * 2 - 1) / Math.sqrt(p.in()));
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) random.nextGaussian() * bStd;
            }
            tensors.put(LoraAdapter.key(p.module(), "A"), TensorData.ofFloats(DType.F32, new long[] {r, p.in()}, a));
            tensors.put(LoraAdapter.key(p.module(), "B"), TensorData.ofFloats(DType.F32, new long[] {p.out(), r}, b));
        }
        return LoraAdapter.fromTensors(m, name, config, tensors, "random adapter");
    }

    /** Every adapted projection's base weight as float32 values. */
    static Map<String, float[]> baseWeights(MistralModel m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.mapLinears((name, l) -> {
            if (l instanceof LoraLinear lora && lora.base() instanceof DenseLinear dense) {
                try (NDScope scope = new NDScope()) {
                    NDArray w = dense.weight();
                    out.put(name, w.toType(DataType.FLOAT32, true).toFloatArray());
                }
            }
            return l;
        });
        return out;
    }

    static double maxDiff(Map<String, float[]> a, Map<String, float[]> b) {
        assertThat(a.keySet()).isEqualTo(b.keySet());
        double max = 0;
        for (String k : a.keySet()) {
            max = Math.max(max, maxAbsDiff(a.get(k), b.get(k)));
        }
        return max;
    }

    private static Map<String, TensorData> fixtureTensors(String name) {
        Map<String, TensorData> out = new LinkedHashMap<>();
        try (SafetensorsFile f =
                SafetensorsFile.open(LoraFixtures.fixture("lora/" + name + "/adapter_model.safetensors"))) {
            f.tensors()
                    .forEach((k, info) -> out.put(k, TensorData.ofFloats(info.dtype(), info.shape(), f.readFloats(k))));
        }
        return out;
    }

    private Path writeAdapter(String dirName, String configFrom, Map<String, TensorData> tensors) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(dirName));
        Files.copy(
                LoraFixtures.fixture("lora/" + configFrom + "/adapter_config.json"),
                dir.resolve("adapter_config.json"));
        SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"), tensors, Map.of("format", "pt"));
        return dir;
    }
}
