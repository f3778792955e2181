package ai.medqa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.common.Json;
import ai.medqa.io.CheckpointException;
import ai.medqa.model.ConfigException;
import ai.medqa.model.ContextOverflowException;
import ai.medqa.tokenizer.TokenizerException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a user sees when a model folder is broken: an exception naming the file or field and what
 * was expected, never a JVM crash. Each case breaks one thing in a copy of fixture model C.
 */
class BadInputTest {
    @TempDir
    Path dir;

    private Path modelC() throws IOException {
        Path src = resource("/fixtures/mistral-swa/f32");
        try (Stream<Path> files = Files.list(src)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        return dir;
    }

    private static Path resource(String name) {
        try {
            return Path.of(BadInputTest.class.getResource(name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static MedQA load(Path model) {
        return MedQA.builder().model(model).build();
    }

    @Test
    void aMissingTokenizerJsonNamesTheSentencepieceFileThatIsThere() throws IOException {
        Path model = modelC();
        Files.writeString(model.resolve("tokenizer.model"), "not read");
        try (MedQA medqa = load(model)) {
            assertThat(medqa.generate(new int[] {1, 5, 9}, 2).tokens()).hasSize(2); // ids need no tokenizer
            assertThatThrownBy(() -> medqa.ask("Is aspirin an NSAID?"))
                    .isInstanceOf(TokenizerException.class)
                    .hasMessageContaining("no tokenizer.json")
                    .hasMessageContaining("tokenizer.model")
                    .hasMessageContaining("save_pretrained");
        }
    }

    @Test
    void truncatedSafetensors() throws IOException {
        Path model = modelC();
        Path file = model.resolve("model.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(raf.length() - 1000);
        }
        assertThatThrownBy(() -> load(model))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("model.safetensors")
                .hasMessageContaining("bytes");
    }

    @Test
    void headerOffsetsPastTheFile() throws IOException {
        Path model = modelC();
        // The last tensor ends at the end of the file; make it end far beyond (same digit count, so
        // the header keeps its length).
        rewriteHeader(model.resolve("model.safetensors"), header -> {
            java.util.regex.Matcher m =
                    java.util.regex.Pattern.compile("\\[(\\d+),\\s*(\\d+)\\]").matcher(header);
            int start = -1;
            int end = -1;
            while (m.find()) {
                start = m.start(2);
                end = m.end(2);
            }
            return header.substring(0, start) + "9".repeat(end - start) + header.substring(end);
        });
        assertThatThrownBy(() -> load(model))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("model.safetensors")
                .hasMessageContaining("999999");
    }

    @Test
    void shapeDisagreesWithByteLength() throws IOException {
        Path model = modelC();
        rewriteHeader(
                model.resolve("model.safetensors"),
                header -> header.replaceFirst("\"shape\":\\s*\\[256,\\s*64\\]", "\"shape\":[256,63]"));
        assertThatThrownBy(() -> load(model))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("model.embed_tokens.weight")
                .hasMessageContaining("[256, 63]");
    }

    @Test
    void missingTensor() throws IOException {
        Path model = modelC();
        rewriteHeader(
                model.resolve("model.safetensors"),
                header -> header.replace("\"model.norm.weight\"", "\"model.norm.weigxx\""));
        assertThatThrownBy(() -> load(model))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("model.norm.weight")
                .hasMessageContaining(model.toString());
    }

    @Test
    void tensorShapeDisagreesWithConfig() throws IOException {
        Path model = modelC();
        editConfig(model, c -> c.put("intermediate_size", 170));
        assertThatThrownBy(() -> load(model))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("model.layers.0.mlp.gate_proj.weight")
                .hasMessageContaining("[172, 64]")
                .hasMessageContaining("[170, 64]");
    }

    @Test
    void configMissingAField() throws IOException {
        Path model = modelC();
        editConfig(model, c -> c.remove("hidden_size"));
        assertThatThrownBy(() -> load(model))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("config.json")
                .hasMessageContaining("hidden_size")
                .hasMessageContaining("missing");
    }

    @Test
    void configFieldOutOfRange() throws IOException {
        Path model = modelC();
        editConfig(model, c -> c.put("num_key_value_heads", 3));
        assertThatThrownBy(() -> load(model))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("config.json")
                .hasMessageContaining("num_key_value_heads is 3")
                .hasMessageContaining("divisor of num_attention_heads (4)");
    }

    @Test
    void configNotJson() throws IOException {
        Path model = modelC();
        Files.writeString(model.resolve("config.json"), "{\"model_type\": \"mistral\",");
        assertThatThrownBy(() -> load(model))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("config.json")
                .hasMessageContaining("not valid JSON");
    }

    @Test
    void tokenizerLargerThanTheModelsVocabulary() throws IOException {
        Path model = modelC();
        // Mistral's real 32,000-token tokenizer next to a model with a 256-row embedding.
        Files.copy(resource("/tokenizer/mistral-7b-v0.1/tokenizer.json"), model.resolve("tokenizer.json"));
        assertThatThrownBy(() -> load(model))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("tokenizer.json")
                .hasMessageContaining("32000")
                .hasMessageContaining("vocab_size is 256");
    }

    @Test
    void promptLongerThanTheContext() throws IOException {
        try (MedQA medqa = load(modelC())) {
            int[] prompt = new int[64]; // max_position_embeddings of model C
            java.util.Arrays.fill(prompt, 5);
            assertThatThrownBy(() -> medqa.generate(prompt, 4))
                    .isInstanceOf(ContextOverflowException.class)
                    .hasMessageContaining("64 tokens")
                    .hasMessageContaining("max_position_embeddings");
            // One token shorter still fits, and generation stops when the context is full.
            assertThat(medqa.generate(java.util.Arrays.copyOf(prompt, 62), 10).tokens())
                    .hasSize(2);
        }
    }

    @Test
    void tokenOutsideTheVocabulary() throws IOException {
        try (MedQA medqa = load(modelC())) {
            assertThatThrownBy(() -> medqa.generate(new int[] {1, 256}, 4))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("256")
                    .hasMessageContaining("[0, 256)");
        }
    }

    @Test
    void missingModelFolder() {
        assertThatThrownBy(() -> load(dir.resolve("nope")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("nope")
                .hasMessageContaining("config.json");
    }

    private static void editConfig(Path model, java.util.function.Consumer<ObjectNode> edit) throws IOException {
        ObjectMapper mapper = Json.MAPPER;
        ObjectNode config =
                (ObjectNode) mapper.readTree(model.resolve("config.json").toFile());
        edit.accept(config);
        mapper.writeValue(model.resolve("config.json").toFile(), config);
    }

    /** Rewrites the JSON header in place, keeping its length (padded with spaces) so offsets stay valid. */
    private static void rewriteHeader(Path file, java.util.function.UnaryOperator<String> edit) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(bytes, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8);
        String edited = edit.apply(header);
        assertThat(edited).as("the edit changed the header").isNotEqualTo(header);
        byte[] e = edited.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (e.length > n) {
            throw new IllegalStateException("edited header is longer than the original");
        }
        java.util.Arrays.fill(bytes, 8, 8 + (int) n, (byte) ' ');
        System.arraycopy(e, 0, bytes, 8, e.length);
        Files.write(file, bytes);
    }
}
