package ai.medqa.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.common.Json;
import ai.medqa.io.Checkpoint;
import ai.medqa.io.CheckpointException;
import ai.medqa.io.DType;
import ai.medqa.model.Logits;
import ai.medqa.model.MistralModel;
import ai.medqa.quant.internal.Int4Weight;
import ai.medqa.quant.internal.Nf4Test;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** INT4/INT8 checkpoints: the documented layout, and a reload equal to quantizing on load. */
class PackedCheckpointTest {
    private static final int[] PROMPT = {1, 87, 35, 79, 52, 3, 40, 232};

    @ParameterizedTest
    @EnumSource(
            value = Quantization.class,
            names = {"INT4", "INT8"})
    void reloadsToTheWeightsQuantizingOnLoadGives(Quantization format, @TempDir Path dir) {
        Path source = Nf4Test.resource("fixtures/llama-rc/A/f32");
        Path out = dir.resolve("q");
        PackedCheckpoint.quantize(source, out, format, 64);
        try (MistralModel onLoad = MistralModel.load(source, Device.cpu(), DataType.FLOAT32, format.linears());
                MistralModel stored =
                        MistralModel.load(out, Device.cpu(), DataType.FLOAT32, Quantization.NONE.linears())) {
            assertThat(Logits.maxAbsDiff(Logits.prefillAll(stored, PROMPT), Logits.prefillAll(onLoad, PROMPT)))
                    .isZero();
        }
    }

    @Test
    void int4LayoutIsTheDocumentedOne(@TempDir Path dir) throws Exception {
        Path source = Nf4Test.resource("fixtures/llama-rc/A/f32");
        Path out = dir.resolve("q");
        PackedCheckpoint.quantize(source, out, Quantization.INT4, 32);
        String module = "model.layers.1.self_attn.q_proj";
        try (Checkpoint src = Checkpoint.open(source);
                Checkpoint c = Checkpoint.open(out)) {
            long[] shape = src.info(module + ".weight").shape();
            Int4Weight expected = Int4Weight.quantize(src.readFloats(module + ".weight"), shape[0], shape[1], 32);
            assertThat(c.info(module + ".weight").dtype()).isEqualTo(DType.U8);
            assertThat(c.info(module + ".weight").shape()).containsExactly(shape[0], shape[1] / 2);
            assertThat(c.info(module + ".weight_scale").dtype()).isEqualTo(DType.BF16);
            assertThat(c.info(module + ".weight_scale").shape()).containsExactly(shape[0], shape[1] / 32);
            ByteBuffer packed = c.raw(module + ".weight");
            for (int i = 0; i < 64; i++) {
                int b = packed.get(i) & 0xFF;
                assertThat(b >>> 4).as("even element, high nibble").isEqualTo(expected.q()[2 * i]);
                assertThat(b & 15).isEqualTo(expected.q()[2 * i + 1]);
            }
            assertThat(c.readFloats(module + ".weight_zero")).containsExactly(expected.zeros());
            assertThat(c.contains("model.embed_tokens.weight")).isTrue();
            assertThat(c.info("model.embed_tokens.weight").dtype()).isEqualTo(DType.F32);
        }
        ObjectNode config =
                (ObjectNode) Json.MAPPER.readTree(out.resolve("config.json").toFile());
        assertThat(config.get("quantization_config").get("quant_method").asText())
                .isEqualTo("medqa");
        assertThat(config.get("quantization_config").get("group_size").asInt()).isEqualTo(32);

        ((ObjectNode) config.get("quantization_config")).put("group_size", 48);
        Files.writeString(out.resolve("config.json"), config.toString());
        assertThatThrownBy(() -> MistralModel.load(out, Device.cpu(), DataType.FLOAT32, Quantization.NONE.linears()))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("group_size");
    }
}
