package ai.medqa.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.medqa.io.SafetensorsFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GGUF models as llama.cpp writes them (architecture llama, q/k rows permuted; quantized by
 * llama.cpp's own llama-quantize to Q8_0, Q4_0 and Q4_K_M, the last two with Q6_K tensors), made by
 * {@code tools/make_gguf_model_golden.py}: MedQA's logits equal those of transformers loading the same
 * file itself (its own dequantization and un-permutation), within float32 rounding.
 */
class GgufModelTest {
    static final Path DIR = Path.of("src/test/resources/gguf");
    static final long[] PROMPT = {1, 50, 77, 3, 200, 128, 9, 255};

    @TempDir
    Path tmp;

    @Test
    void logitsMatchTransformersLoadingTheSameFile() {
        try (SafetensorsFile golden = SafetensorsFile.open(DIR.resolve("gguf_logits.safetensors"))) {
            for (String stem : new String[] {"tiny-Q8_0", "tiny-Q4_0", "tiny-Q4_K_M"}) {
                float[] expected = golden.readFloats(stem);
                float[] ours;
                try (MistralModel m = MistralModel.load(
                                DIR.resolve(stem + ".gguf"), Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE);
                        NDManager nd = NDManager.newBaseManager();
                        NDArray ids = nd.create(new long[][] {PROMPT})) {
                    assertThat(m.config().modelType()).isEqualTo("llama");
                    assertThat(m.config().numKeyValueHeads()).isEqualTo(2);
                    ours = m.forward(ids, new int[] {0}).toFloatArray();
                }
                double worst = 0;
                double scale = 0;
                for (int i = 0; i < ours.length; i++) {
                    worst = Math.max(worst, Math.abs(ours[i] - expected[i]));
                    scale = Math.max(scale, Math.abs(expected[i]));
                }
                // Same float32 weights on both sides; only the order of float32 sums differs.
                assertThat(worst)
                        .as(stem + " max |logit difference| (logits up to %.2f)", scale)
                        .isLessThan(1e-4);
                for (int pos = 0; pos < PROMPT.length; pos++) {
                    assertThat(argmax(ours, pos)).as(stem + " greedy at " + pos).isEqualTo(argmax(expected, pos));
                }
                System.out.printf(
                        "[figure] %s: max |logit - transformers'| %.2e (logits up to %.2f)%n", stem, worst, scale);
            }
        }
    }

    /** Through the facade, as users load it: weights from the file, quantized on load to INT4 if asked. */
    @Test
    void medqaLoadsAGgufFileAndGeneratesWithAndWithoutQuantization() {
        float[] expected;
        try (SafetensorsFile golden = SafetensorsFile.open(DIR.resolve("gguf_logits.safetensors"))) {
            expected = golden.readFloats("tiny-Q8_0");
        }
        int[] prompt = Arrays.stream(PROMPT).mapToInt(l -> (int) l).toArray();
        try (ai.medqa.MedQA medqa =
                ai.medqa.MedQA.builder().model(DIR.resolve("tiny-Q8_0.gguf")).build()) {
            int first = medqa.generate(prompt, 3).tokens()[0];
            assertThat(first).isEqualTo(argmax(expected, PROMPT.length - 1));
            // The file's own tokenizer (256 pieces, byte fallback): " A" is "▁" (UTF-8 e2 96 81) and "A" in bytes.
            assertThat(medqa.tokenizer().vocabSize()).isEqualTo(256);
            assertThat(medqa.tokenizer().encode("A")).containsExactly(1, 3 + 0xe2, 3 + 0x96, 3 + 0x81, 3 + 'A');
        }
        try (ai.medqa.MedQA medqa = ai.medqa.MedQA.builder()
                .model(DIR.resolve("tiny-Q8_0.gguf"))
                .quantize(ai.medqa.quant.Quantization.INT4)
                .build()) {
            assertThat(medqa.generate(prompt, 3).tokens()).hasSize(3);
        }
    }

    /**
     * By default a GGUF loads "as stored": Q4_0/Q4_K projections as INT4 groups of 32 with the file's
     * codes (only scale and zero rounded to bfloat16), Q8_0/Q6_K as INT8 rows. The logits stay near
     * transformers' (float32 dequantized) ones: bounded by bfloat16 rounding, not by a requantization.
     */
    @Test
    void asStoredFourBitBlocksKeepTheirCodes() {
        try (SafetensorsFile golden = SafetensorsFile.open(DIR.resolve("gguf_logits.safetensors"))) {
            for (String stem : new String[] {"tiny-Q4_0", "tiny-Q4_K_M", "tiny-Q8_0"}) {
                float[] expected = golden.readFloats(stem);
                float[] asStored;
                float[] requantized;
                try (ai.medqa.MedQA medqa = ai.medqa.MedQA.builder()
                        .model(DIR.resolve(stem + ".gguf"))
                        .build()) {
                    asStored = logits(medqa.model());
                }
                try (ai.medqa.MedQA medqa = ai.medqa.MedQA.builder()
                        .model(DIR.resolve(stem + ".gguf"))
                        .quantize(ai.medqa.quant.Quantization.INT4)
                        .groupSize(32)
                        .build()) {
                    requantized = logits(medqa.model());
                }
                double stored = maxDiff(asStored, expected);
                double requant = maxDiff(requantized, expected);
                System.out.printf(
                        "[figure] %s: max |logit - transformers'| as stored %.2e, requantized to int4 g32 %.2e%n",
                        stem, stored, requant);
                // The int4 kernels take bfloat16 activations (relative error 2^-9 each) and the scales are
                // bfloat16 too: about 1% of the largest logit (~17-20 here) at most. Requantizing the
                // dequantized values instead costs far more (a 4-bit grid laid over another one).
                if (!stem.equals("tiny-Q8_0")) {
                    assertThat(stored).as(stem).isLessThan(0.25).isLessThan(requant / 3);
                } else {
                    // Q8_0's blocks of 32 requantized to one int8 scale per row: ~2% of the largest logit.
                    assertThat(stored).as(stem).isLessThan(0.5).isLessThan(requant / 3);
                }
            }
        }
    }

    /**
     * Greedy continuations of the prompt by llama.cpp itself (build 4748, llama-server /completion with
     * the prompt as token ids, temperature 0, return_tokens), recorded here by hand: llama.cpp
     * multiplies with activations quantized to 8 bits, so once a step's top two logits are close the
     * two may part; up to there the tokens must agree.
     */
    static final java.util.Map<String, int[]> LLAMA_CPP_GREEDY = java.util.Map.of(
            "tiny-Q8_0", new int[] {220, 233, 128, 41, 48, 100, 149, 220},
            "tiny-Q4_0", new int[] {220, 23, 155, 210, 113, 233, 176, 47},
            "tiny-Q4_K_M", new int[] {184, 12, 21, 112, 48, 153, 191, 128});

    @Test
    void greedyTokensAgreeWithLlamaCppWhereTheMarginsAllow() {
        int[] prompt = Arrays.stream(PROMPT).mapToInt(l -> (int) l).toArray();
        for (java.util.Map.Entry<String, int[]> e : new java.util.TreeMap<>(LLAMA_CPP_GREEDY).entrySet()) {
            try (MistralModel m = MistralModel.load(
                    DIR.resolve(e.getKey() + ".gguf"), Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
                int[] ours = new ai.medqa.generate.Generator(m, null)
                        .generate(
                                prompt,
                                ai.medqa.generate.GenerationConfig.greedy().toBuilder()
                                        .maxNewTokens(8)
                                        .build())
                        .tokens();
                int same = 0;
                while (same < 8 && ours[same] == e.getValue()[same]) {
                    same++;
                }
                System.out.printf(
                        "[figure] %s: greedy tokens equal to llama.cpp's for %d of 8 (ours %s)%n",
                        e.getKey(), same, Arrays.toString(ours));
                assertThat(same).as(e.getKey()).isEqualTo(8); // the margins here allow all 8
            }
        }
    }

    static float[] logits(MistralModel m) {
        try (NDManager nd = NDManager.newBaseManager();
                NDArray ids = nd.create(new long[][] {PROMPT})) {
            return m.forward(ids, new int[] {0}).toFloatArray();
        }
    }

    static double maxDiff(float[] a, float[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    static int argmax(float[] logits, int pos) {
        int best = pos * 256;
        for (int i = pos * 256; i < (pos + 1) * 256; i++) {
            best = logits[i] > logits[best] ? i : best;
        }
        return best - pos * 256;
    }

    /**
     * {@code medqa quantize --model x.gguf}: the folder it writes loads to the very model the GGUF file
     * loads to as stored (Q4_0's codes kept as int4 groups of 32; Q8_0 as int8 rows), with the file's
     * configuration and tokenizer.
     */
    @Test
    void aGgufFileConvertsToAFolderThatLoadsToTheSameModel() throws Exception {
        for (String[] c : new String[][] {{"tiny-Q4_0", "INT4"}, {"tiny-Q8_0", "INT8"}}) {
            Path gguf = DIR.resolve(c[0] + ".gguf");
            Path out = tmp.resolve(c[0] + "-" + c[1]);
            ai.medqa.quant.PackedCheckpoint.quantize(gguf, out, ai.medqa.quant.Quantization.valueOf(c[1]), 32);
            assertThat(out.resolve("tokenizer.json")).exists();
            assertThat(out.resolve("tokenizer_config.json")).exists();
            MistralConfig fromFile = GgufModel.config(gguf);
            MistralConfig fromFolder = MistralConfig.load(out);
            assertThat(fromFolder)
                    .usingRecursiveComparison()
                    .ignoringFields("quantizationConfig")
                    .isEqualTo(fromFile);
            try (ai.medqa.MedQA direct = ai.medqa.MedQA.builder().model(gguf).build();
                    // The folder keeps lm_head as the float32 checkpoint tensor; held as int8, as the GGUF's
                    // stored Q6_K/Q8_0 head loads, it is the same model.
                    ai.medqa.MedQA converted = ai.medqa.MedQA.builder()
                            .model(out)
                            .lmHead(ai.medqa.quant.LmHead.INT8)
                            .build()) {
                assertThat(maxDiff(logits(converted.model()), logits(direct.model())))
                        .as(c[0])
                        .isZero();
                String text = "Is aspirin an NSAID? é";
                assertThat(converted.tokenizer().encode(text))
                        .isEqualTo(direct.tokenizer().encode(text));
            }
        }
        Path nf4 = tmp.resolve("nf4");
        ai.medqa.quant.Nf4Checkpoint.quantize(DIR.resolve("tiny-Q8_0.gguf"), nf4, true);
        try (ai.medqa.MedQA m = ai.medqa.MedQA.builder().model(nf4).build()) {
            assertThat(m.generate(new int[] {1, 5, 9}, 2).tokens()).hasSize(2);
        }
        assertThatThrownBy(() -> ai.medqa.quant.PackedCheckpoint.quantize(
                        DIR.resolve("tiny-Q4_0.gguf"), nf4, ai.medqa.quant.Quantization.INT4, 32))
                .hasMessageContaining("exists");
    }

    /**
     * A PEFT adapter made for the GGUF base (by PEFT on transformers' own loading of each file,
     * tools/make_gguf_lora_golden.py) applies by the checkpoint's names: q/k rows un-permuted, so the
     * adapter's rows meet the weights' rows. Dequantized, the logits are PEFT's within float32
     * rounding; as stored (int4 codes, int8 rows), within the bounds of asStoredFourBitBlocksKeepTheirCodes.
     */
    @Test
    void aPeftAdapterAppliesToAGgufBase() {
        Path lora = DIR.resolve("lora-tiny");
        try (SafetensorsFile golden = SafetensorsFile.open(DIR.resolve("gguf_lora_logits.safetensors"));
                SafetensorsFile plain = SafetensorsFile.open(DIR.resolve("gguf_logits.safetensors"))) {
            for (String stem : new String[] {"tiny-Q4_0", "tiny-Q4_K_M", "tiny-Q8_0"}) {
                float[] expected = golden.readFloats(stem);
                assertThat(maxDiff(expected, plain.readFloats(stem)))
                        .as("the adapter changes the logits")
                        .isGreaterThan(5);
                double exact;
                double stored;
                try (ai.medqa.MedQA m = ai.medqa.MedQA.builder()
                        .model(DIR.resolve(stem + ".gguf"))
                        .dequantize(true)
                        .lora(lora)
                        .build()) {
                    exact = maxDiff(logits(m.model()), expected);
                }
                try (ai.medqa.MedQA m = ai.medqa.MedQA.builder()
                        .model(DIR.resolve(stem + ".gguf"))
                        .lora(lora)
                        .build()) {
                    stored = maxDiff(logits(m.model()), expected);
                }
                System.out.printf(
                        "[figure] %s + PEFT adapter: max |logit - PEFT's| dequantized %.2e, as stored %.2e%n",
                        stem, exact, stored);
                assertThat(exact).as(stem + " dequantized").isLessThan(1e-4);
                assertThat(stored).as(stem + " as stored").isLessThan(stem.equals("tiny-Q8_0") ? 0.5 : 0.25);
            }
        }
    }

    /** A GGUF file carries its own configuration: a config.json in the same folder belongs to something else. */
    @Test
    void aConfigJsonBesideTheFileIsNotRead() throws Exception {
        Path file = Files.copy(DIR.resolve("tiny-Q4_0.gguf"), tmp.resolve("tiny-Q4_0.gguf"));
        Files.writeString(
                tmp.resolve("config.json"),
                "{\"quantization_config\": {\"quant_method\": \"bitsandbytes\", "
                        + "\"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"fp4\"}, \"hidden_size\": \"x\"}");
        try (ai.medqa.MedQA medqa = ai.medqa.MedQA.builder().model(file).build()) {
            assertThat(medqa.generate(new int[] {1, 5, 9}, 2).tokens()).hasSize(2);
        }
    }

    @Test
    void otherArchitecturesAreRefusedByName() throws Exception {
        byte[] file = Files.readAllBytes(DIR.resolve("tiny-Q4_0.gguf"));
        byte[] llama = "llama".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < file.length; i++) {
            if (Arrays.equals(Arrays.copyOfRange(file, i, i + 5), llama)) { // the first is general.architecture's value
                System.arraycopy("qwenz".getBytes(StandardCharsets.UTF_8), 0, file, i, 5);
                break;
            }
        }
        Path bad = tmp.resolve("bad.gguf");
        Files.write(bad, file);
        assertThatThrownBy(() -> MistralModel.load(bad, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE))
                .hasMessageContaining("architecture \"qwenz\" is not supported");
    }
}
