package ai.medqa.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CheckpointTest {
    @TempDir
    Path dir;

    private static final Path FIXTURES = TestFiles.fixtures();

    @ParameterizedTest
    @ValueSource(
            strings = {
                "llama-rc/A/f32",
                "llama-rc/A/bf16",
                "llama-rc/A/f16",
                "llama-rc/B/f32",
                "llama-rc/B/bf16",
                "llama-rc/B/f16",
                "mistral-swa/f32",
                "mistral-swa/bf16",
                "mistral-swa/f16",
                "mistral-swa/bf16-sharded",
                "lora/C-qv",
                "lora/C-all",
                "lora/C-rslora"
            })
    void everyFixtureLoadsAndEveryTensorReads(String fixture) {
        try (Checkpoint c = Checkpoint.open(FIXTURES.resolve(fixture))) {
            assertThat(c.names()).isNotEmpty();
            for (String name : c.names()) {
                TensorInfo info = c.info(name);
                assertThat(c.readFloats(name)).hasSize((int) info.numel());
                assertThat(c.read(name, DType.F32).remaining()).isEqualTo(info.numel() * 4);
                assertThat(c.read(name, DType.F16).remaining()).isEqualTo(info.numel() * 2);
            }
        }
    }

    @Test
    void modelCIsBitIdenticalInEveryCopy() {
        assertSameValues("mistral-swa", List.of("f32", "f16", "bf16", "bf16-sharded"));
    }

    @Test
    void modelsAAndBAreBitIdenticalInEveryCopy() {
        assertSameValues("llama-rc/A", List.of("f32", "f16", "bf16"));
        assertSameValues("llama-rc/B", List.of("f32", "f16", "bf16"));
    }

    /**
     * The fixture README promises the copies hold identical values. So every tensor read as floats
     * must agree bit for bit, and converting any copy to F32 or F16 must give exactly the bytes of
     * the F32 or F16 copy.
     */
    private static void assertSameValues(String model, List<String> copies) {
        List<Checkpoint> opened = new ArrayList<>();
        try {
            for (String copy : copies) {
                opened.add(Checkpoint.open(FIXTURES.resolve(model).resolve(copy)));
            }
            Checkpoint f32 = opened.get(copies.indexOf("f32"));
            Checkpoint f16 = opened.get(copies.indexOf("f16"));
            for (Checkpoint c : opened) {
                assertThat(c.names()).as(c.directory().toString()).containsExactlyElementsOf(f32.names());
                for (String name : f32.names()) {
                    assertThat(c.info(name).shape()).isEqualTo(f32.info(name).shape());
                    assertThat(bits(c.readFloats(name)))
                            .as("%s in %s", name, c.directory())
                            .isEqualTo(bits(f32.readFloats(name)));
                    assertThat(c.read(name, DType.F32))
                            .as("%s in %s as F32", name, c.directory())
                            .isEqualTo(f32.raw(name));
                    assertThat(c.read(name, DType.F16))
                            .as("%s in %s as F16", name, c.directory())
                            .isEqualTo(f16.raw(name));
                }
            }
            assertThat(f32.info("model.embed_tokens.weight").dtype()).isEqualTo(DType.F32);
            assertThat(f16.info("model.embed_tokens.weight").dtype()).isEqualTo(DType.F16);
        } finally {
            opened.forEach(Checkpoint::close);
        }
    }

    private static int[] bits(float[] values) {
        int[] bits = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return bits;
    }

    @Test
    void shardedCheckpointSpreadsOverItsShards() {
        try (Checkpoint c = Checkpoint.open(FIXTURES.resolve("mistral-swa/bf16-sharded"))) {
            assertThat(c.files())
                    .extracting(p -> p.getFileName().toString())
                    .containsExactly(
                            "model-00001-of-00003.safetensors",
                            "model-00002-of-00003.safetensors",
                            "model-00003-of-00003.safetensors");
            assertThat(c.contains("lm_head.weight")).isTrue();
            assertThat(c.info("model.layers.1.self_attn.v_proj.weight").dtype()).isEqualTo(DType.BF16);
        }
    }

    @Test
    void missingTensorNamesTensorFolderAndFiles() {
        Path a = FIXTURES.resolve("llama-rc/A/f32");
        try (Checkpoint c = Checkpoint.open(a)) {
            // model A ties its embeddings, so the file has no lm_head.weight
            assertThat(c.contains("lm_head.weight")).isFalse();
            assertThatThrownBy(() -> c.readFloats("lm_head.weight"))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("no tensor named lm_head.weight in checkpoint " + a)
                    .hasMessageContaining("looked in model.safetensors");
        }
        Path sharded = FIXTURES.resolve("mistral-swa/bf16-sharded");
        try (Checkpoint c = Checkpoint.open(sharded)) {
            assertThatThrownBy(() -> c.raw("model.layers.9.mlp.up_proj.weight"))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("no tensor named model.layers.9.mlp.up_proj.weight in checkpoint " + sharded)
                    .hasMessageContaining("model-00001-of-00003.safetensors, model-00002-of-00003.safetensors, "
                            + "model-00003-of-00003.safetensors")
                    .hasMessageContaining(Checkpoint.INDEX_FILE);
        }
    }

    private Path copyOf(String fixture) throws IOException {
        Path target = dir.resolve(Path.of(fixture).getFileName().toString());
        Files.createDirectories(target);
        try (Stream<Path> files = Files.list(FIXTURES.resolve(fixture))) {
            for (Path p : files.toList()) {
                Files.copy(p, target.resolve(p.getFileName()));
            }
        }
        return target;
    }

    @Test
    void missingShard() throws IOException {
        Path c = copyOf("mistral-swa/bf16-sharded");
        Files.delete(c.resolve("model-00002-of-00003.safetensors"));
        assertThatThrownBy(() -> Checkpoint.open(c))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(c.resolve(Checkpoint.INDEX_FILE).toString())
                .hasMessageContaining(
                        "tensor model.layers.1.self_attn.v_proj.weight is in shard model-00002-of-00003.safetensors")
                .hasMessageContaining("does not exist");
    }

    @Test
    void indexNamesATensorItsShardLacks() throws IOException {
        Path c = copyOf("mistral-swa/bf16-sharded");
        Path index = c.resolve(Checkpoint.INDEX_FILE);
        // move one tensor to the wrong shard in the index
        String json = Files.readString(index)
                .replace(
                        "\"model.layers.1.self_attn.v_proj.weight\": \"model-00002-of-00003.safetensors\"",
                        "\"model.layers.1.self_attn.v_proj.weight\": \"model-00003-of-00003.safetensors\"");
        Files.writeString(index, json);
        assertThatThrownBy(() -> Checkpoint.open(c))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(index.toString())
                .hasMessageContaining(
                        "tensor model.layers.1.self_attn.v_proj.weight is in shard model-00003-of-00003.safetensors")
                .hasMessageContaining("has no tensor of that name");
    }

    @Test
    void corruptShardIsNamed() throws IOException {
        Path c = copyOf("mistral-swa/bf16-sharded");
        Path shard = c.resolve("model-00003-of-00003.safetensors");
        byte[] bytes = Files.readAllBytes(shard);
        Files.write(shard, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        assertThatThrownBy(() -> Checkpoint.open(c))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(shard.toString())
                .hasMessageContaining("lm_head.weight ends at byte");
    }

    @Test
    void badIndexFiles() throws IOException {
        Path index = dir.resolve(Checkpoint.INDEX_FILE);
        Files.writeString(index, "{\"metadata\": {}}");
        assertThatThrownBy(() -> Checkpoint.open(dir))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(index + ": has no \"weight_map\" object");
        Files.writeString(index, "{\"weight_map\": ");
        assertThatThrownBy(() -> Checkpoint.open(dir))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(index + ": not valid JSON");
        Files.writeString(index, "{\"weight_map\": {\"w\": \"../elsewhere.safetensors\"}}");
        assertThatThrownBy(() -> Checkpoint.open(dir))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("tensor w is in shard \"../elsewhere.safetensors\", which is not a file inside");
        Files.writeString(index, "{\"weight_map\": {\"w\": 3}}");
        assertThatThrownBy(() -> Checkpoint.open(dir))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("weight_map entry for tensor w must be a shard file name");
    }

    @Test
    void folderWithoutIndexOrModelFile() throws IOException {
        Path missing = dir.resolve("nowhere");
        assertThatThrownBy(() -> Checkpoint.open(missing))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("checkpoint folder " + missing + " does not exist");
        assertThatThrownBy(() -> Checkpoint.open(dir))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("checkpoint folder " + dir + " has no model.safetensors.index.json");

        TensorData t = TensorData.ofFloats(DType.F32, new long[] {2}, new float[] {1, 2});
        SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"), Map.of("x", t), Map.of());
        try (Checkpoint c = Checkpoint.open(dir)) { // the only *.safetensors file
            assertThat(c.readFloats("x")).containsExactly(1, 2);
        }
        SafetensorsWriter.write(dir.resolve("other.safetensors"), Map.of("y", t), Map.of());
        assertThatThrownBy(() -> Checkpoint.open(dir))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("has several *.safetensors files [adapter_model.safetensors, other.safetensors]");
        SafetensorsWriter.write(dir.resolve("model.safetensors"), Map.of("z", t), Map.of());
        try (Checkpoint c = Checkpoint.open(dir)) { // model.safetensors wins
            assertThat(c.names()).containsExactly("z");
        }
        try (Checkpoint c = Checkpoint.open(dir.resolve("other.safetensors"))) { // a file path works too
            assertThat(c.names()).containsExactly("y");
            assertThat(c.directory()).isEqualTo(dir.toAbsolutePath());
        }
    }

    @Test
    void sameDtypeReadIsZeroCopy() {
        try (Checkpoint c = Checkpoint.open(FIXTURES.resolve("mistral-swa/bf16-sharded"))) {
            ByteBuffer raw = c.read("lm_head.weight", DType.F32);
            assertThat(raw.isReadOnly()).isFalse(); // converted: a fresh buffer
            assertThat(raw.isDirect()).isTrue();
        }
        try (Checkpoint c = Checkpoint.open(FIXTURES.resolve("mistral-swa/f16"))) {
            assertThat(c.read("lm_head.weight", DType.F16).isReadOnly()).isTrue(); // the mapping itself
        }
    }
}
