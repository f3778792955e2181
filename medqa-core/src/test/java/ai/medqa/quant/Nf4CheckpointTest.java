package ai.medqa.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.common.Json;
import ai.medqa.io.Checkpoint;
import ai.medqa.io.CheckpointException;
import ai.medqa.model.Logits;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.MistralModel;
import ai.medqa.quant.internal.Nf4;
import ai.medqa.quant.internal.Nf4Test;
import ai.medqa.quant.internal.Nf4Weight;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A bitsandbytes 4-bit checkpoint we write reloads bit-identically, and loads as a model. */
class Nf4CheckpointTest {

    @TempDir
    Path tmp;

    @Test
    void writtenCheckpointReloadsBitIdentically() throws Exception {
        Path source = Nf4Test.resource("fixtures/mistral-swa/bf16");
        Path target = tmp.resolve("nf4");
        Nf4Checkpoint.quantize(source, target, true);

        MistralConfig config = MistralConfig.load(source);
        MistralConfig written = MistralConfig.load(target);
        JsonNode q = written.quantizationConfig();
        assertThat(q.get("quant_method").asText()).isEqualTo("bitsandbytes");
        assertThat(q.get("load_in_4bit").asBoolean()).isTrue();
        assertThat(q.get("bnb_4bit_quant_type").asText()).isEqualTo("nf4");
        assertThat(q.get("bnb_4bit_use_double_quant").asBoolean()).isTrue();
        assertThat(Nf4Checkpoint.checkConfig(q, target)).isEmpty();

        try (Checkpoint src = Checkpoint.open(source);
                Checkpoint out = Checkpoint.open(target)) {
            long h = config.hiddenSize();
            long inter = config.intermediateSize();
            long kv = (long) config.numKeyValueHeads() * config.headDim();
            String module = "model.layers.2.mlp.down_proj";
            Nf4Weight expected =
                    Nf4.quantize(src.readFloats(module + ".weight"), new long[] {h, inter}, true, "bfloat16");
            Nf4Weight reloaded = Nf4Checkpoint.read(out, module, h, inter);
            assertThat(reloaded.sameAs(expected))
                    .as("%s reloads bit-identically", module)
                    .isTrue();
            assertThat(Nf4Checkpoint.read(out, "model.layers.0.self_attn.k_proj", kv, h)
                            .sameAs(Nf4.quantize(
                                    src.readFloats("model.layers.0.self_attn.k_proj.weight"),
                                    new long[] {kv, h},
                                    true,
                                    "bfloat16")))
                    .isTrue();
            // The tensors bitsandbytes writes, with its names, dtypes and shapes.
            assertThat(out.info(module + ".weight").shape()).containsExactly((h * inter) / 2, 1);
            assertThat(out.info(module + ".weight.absmax").dtype().name()).isEqualTo("U8");
            assertThat(out.info(module + ".weight.quant_map").shape()).containsExactly(16);
            assertThat(out.info(module + ".weight.nested_quant_map").shape()).containsExactly(256);
            ByteBuffer json = out.raw(module + Nf4Checkpoint.QUANT_STATE);
            byte[] b = new byte[json.remaining()];
            json.get(b);
            JsonNode state = Json.MAPPER.readTree(new String(b, StandardCharsets.UTF_8));
            assertThat(state.get("quant_type").asText()).isEqualTo("nf4");
            assertThat(state.get("blocksize").asInt()).isEqualTo(64);
            assertThat(state.get("dtype").asText()).isEqualTo("bfloat16");
            assertThat(state.get("nested_blocksize").asInt()).isEqualTo(256);
            assertThat((float) state.get("nested_offset").asDouble())
                    .isEqualTo(expected.nested().offset());
            // Everything that is not a projection is copied as stored.
            for (String name : new String[] {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"}) {
                assertThat(out.raw(name)).isEqualTo(src.raw(name));
            }
        }

        // Loading the written checkpoint gives the very logits of quantizing on load.
        int[] prompt = {1, 87, 35, 79, 52, 3, 40, 232};
        try (MistralModel onLoad =
                        MistralModel.load(source, Device.cpu(), DataType.FLOAT32, QuantizedLinears.nf4(true));
                MistralModel fromFile =
                        MistralModel.load(target, Device.cpu(), DataType.FLOAT32, QuantizedLinears.nf4(true));
                MistralModel asStored =
                        MistralModel.load(target, Device.cpu(), DataType.FLOAT32, Quantization.NONE.linears());
                MistralModel dense =
                        MistralModel.load(target, Device.cpu(), DataType.FLOAT32, QuantizedLinears.dequantizing())) {
            float[][] a = Logits.prefillAll(onLoad, prompt);
            assertThat(Logits.maxAbsDiff(Logits.prefillAll(fromFile, prompt), a))
                    .isZero();
            // NONE loads the 4-bit checkpoint as stored (the NF4 script kernel); dequantizing() makes dense
            // weights: the same numbers, another summation order.
            assertThat(asStored.manager().getManagedArrays().size())
                    .isGreaterThan(dense.manager().getManagedArrays().size());
            assertThat(Logits.maxAbsDiff(Logits.prefillAll(asStored, prompt), a))
                    .isLessThan(1e-3);
            assertThat(Logits.maxAbsDiff(Logits.prefillAll(dense, prompt), a)).isLessThan(1e-3);
        }
    }

    @Test
    void refusesAnExistingTargetAndForeignQuantization() throws Exception {
        Path source = Nf4Test.resource("fixtures/mistral-swa/f32");
        Files.createDirectories(tmp.resolve("exists"));
        assertThatThrownBy(() -> Nf4Checkpoint.quantize(source, tmp.resolve("exists"), true))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("exists");
        ObjectMapper m = Json.MAPPER;
        assertThatThrownBy(() -> Nf4Checkpoint.checkConfig(
                        m.readTree("{\"quant_method\":\"bitsandbytes\",\"load_in_8bit\":true}"), tmp))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("load_in_8bit");
        assertThatThrownBy(() -> Nf4Checkpoint.checkConfig(
                        m.readTree("{\"load_in_4bit\":true,\"bnb_4bit_quant_type\":\"fp4\"}"), tmp))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("fp4");
        assertThat(Nf4Checkpoint.checkConfig(
                        m.readTree("{\"load_in_4bit\":true,\"llm_int8_skip_modules\":[\"o_proj\"]}"), tmp))
                .containsExactly("o_proj");
        assertThat(tmp.toFile().list()).containsExactly("exists");
    }
}
