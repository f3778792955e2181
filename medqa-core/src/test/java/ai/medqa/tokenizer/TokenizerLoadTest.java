package ai.medqa.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.common.Json;
import ai.medqa.common.MedQAException;
import ai.medqa.tokenizer.MistralTokenizerFixture.Row;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading a folder: metadata, tokenizer_config.json options, and errors that name the file. */
class TokenizerLoadTest {
    private static final ObjectMapper JSON = Json.MAPPER;

    @TempDir
    Path dir;

    @Test
    void exposesVocabularyAndSpecialTokens() {
        try (Tokenizer t = Tokenizer.load(MistralTokenizerFixture.folder(dir, true))) {
            assertThat(t.vocabSize()).isEqualTo(32000);
            assertThat(t.bosId()).isEqualTo(1);
            assertThat(t.eosId()).isEqualTo(2);
            assertThat(t.unkId()).isEqualTo(0);
            assertThat(t.bosToken()).isEqualTo("<s>");
            assertThat(t.eosToken()).isEqualTo("</s>");
            assertThat(t.idToPiece(13)).isEqualTo("<0x0A>");
            assertThat(t.idToPiece(13300)).isEqualTo("▁grabbed");
            assertThat(t.idOf("▁grabbed")).isEqualTo(13300);
            assertThat(t.idOf("</s>")).isEqualTo(2);
            assertThat(t.idOf("[INST]")).isEqualTo(-1);
            assertThat(t.isSpecial(2)).isTrue();
            assertThat(t.isSpecial(13)).isFalse();
            assertThat(t.chatTemplate())
                    .hasValueSatisfying(template ->
                            assertThat(template).startsWith("{{ bos_token }}").contains("[INST] "));
        }
    }

    @Test
    void withoutTokenizerConfigTheLlamaDefaultsGiveTheSameIds() {
        try (Tokenizer t = Tokenizer.load(MistralTokenizerFixture.folder(dir, false))) {
            assertThat(t.chatTemplate()).isEmpty();
            for (Row row : MistralTokenizerFixture.transformersRows()) {
                assertThat(t.encode(row.text())).as(row.toString()).isEqualTo(row.hfIds());
            }
        }
    }

    @Test
    void legacyFalseKeepsTheTokenizerJsonMetaspace() throws IOException {
        MistralTokenizerFixture.folder(dir, true);
        editConfig(c -> c.put("legacy", false));
        try (Tokenizer t = Tokenizer.load(dir)) {
            // prepend_scheme "first": no "▁" after a special token; the bare tokenizers library's ids.
            assertThat(t.encode("<s>[INST] Hi [/INST] Hello</s>"))
                    .containsExactly(1, 1, 28792, 16289, 28793, 15359, 733, 28748, 16289, 28793, 22557, 2);
            assertThat(t.encode("Hello")).containsExactly(1, 22557);
        }
    }

    @Test
    void addBosAndAddEosFollowTokenizerConfig() throws IOException {
        MistralTokenizerFixture.folder(dir, true);
        editConfig(c -> c.put("add_bos_token", false).put("add_eos_token", true));
        try (Tokenizer t = Tokenizer.load(dir)) {
            assertThat(t.encode("grabbed")).containsExactly(13300, 2);
            assertThat(t.encode("grabbed", false)).containsExactly(13300);
            assertThat(t.encodeLiteral("grabbed", true)).containsExactly(1, 13300);
        }
    }

    @Test
    void chatTemplateJinjaFileWinsAndTokenObjectsAreRead() throws IOException {
        MistralTokenizerFixture.folder(dir, true);
        editConfig(c -> c.putObject("bos_token").put("__type", "AddedToken").put("content", "<s>"));
        Files.writeString(dir.resolve("chat_template.jinja"), "{{ messages }}");
        try (Tokenizer t = Tokenizer.load(dir)) {
            assertThat(t.chatTemplate()).contains("{{ messages }}");
            assertThat(t.bosId()).isEqualTo(1);
        }
    }

    @Test
    void missingTokenizerJsonIsNamed() {
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .isInstanceOf(MedQAException.class)
                .hasMessageContaining(dir.resolve("tokenizer.json").toString())
                .hasMessageContaining("not found");
    }

    @Test
    void invalidTokenizerJsonIsNamed() throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"vocab\": ");
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("tokenizer.json")
                .hasMessageContaining("not valid JSON");
        Files.writeString(dir.resolve("tokenizer.json"), "{\"version\": \"1.0\"}");
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("tokenizer.json")
                .hasMessageContaining("\"model\"");
    }

    @Test
    void aModelTheNativeLibraryRejectsIsNamed() throws IOException {
        Files.writeString(
                dir.resolve("tokenizer.json"),
                "{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"<s>\": 0, \"</s>\": 1}}}");
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("tokenizer.json")
                .hasMessageContaining("rejected");
    }

    @Test
    void invalidTokenizerConfigIsNamed() throws IOException {
        MistralTokenizerFixture.folder(dir, false);
        Files.writeString(dir.resolve("tokenizer_config.json"), "not json");
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("tokenizer_config.json");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"add_bos_token\": \"yes\"}");
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("tokenizer_config.json")
                .hasMessageContaining("add_bos_token");
    }

    @Test
    void aSpecialTokenMissingFromTheVocabularyIsNamed() throws IOException {
        MistralTokenizerFixture.folder(dir, true);
        editConfig(c -> c.put("eos_token", "<|end|>"));
        assertThatThrownBy(() -> Tokenizer.load(dir))
                .isInstanceOf(TokenizerException.class)
                .hasMessageContaining("eos_token")
                .hasMessageContaining("<|end|>");
    }

    @Test
    void useAfterCloseFailsClearly() {
        Tokenizer t = Tokenizer.load(MistralTokenizerFixture.folder(dir, true));
        t.close();
        t.close();
        assertThatThrownBy(() -> t.encode("x"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    private interface Edit {
        void apply(ObjectNode config);
    }

    private void editConfig(Edit edit) throws IOException {
        Path file = dir.resolve("tokenizer_config.json");
        ObjectNode config = (ObjectNode) JSON.readTree(file.toFile());
        edit.apply(config);
        JSON.writeValue(file.toFile(), config);
    }
}
