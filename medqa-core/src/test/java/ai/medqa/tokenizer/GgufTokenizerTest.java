package ai.medqa.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.chat.ChatTemplate;
import ai.medqa.chat.Message;
import ai.medqa.common.Json;
import ai.medqa.io.GgufFile;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tokenizer built from a GGUF file's metadata (pieces, SentencePiece scores and types exactly as
 * llama.cpp's converter wrote them for Mistral's tokenizer; tools/make_gguf_tokenizer_fixture.py)
 * gives the ids of Mistral's own tokenizer.json on the 1,000 PubMedQA long answers and on edge cases,
 * and the same chat prompt from the file's template.
 */
class GgufTokenizerTest {
    static final Path GGUF = Path.of("src/test/resources/gguf/mistral-tokenizer.gguf");
    static final Path TOKENIZERS = Path.of("src/test/resources/tokenizer");

    @TempDir
    Path tmp;

    Tokenizer reference() throws Exception {
        Files.copy(TOKENIZERS.resolve("mistral-7b-v0.1/tokenizer.json"), tmp.resolve("tokenizer.json"));
        Files.copy(
                TOKENIZERS.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"),
                tmp.resolve("tokenizer_config.json"));
        return Tokenizer.load(tmp);
    }

    @Test
    void idsEqualTokenizerJsonOnPubMedQaAndEdgeCases() throws Exception {
        JsonNode data = Json.MAPPER.readTree(Path.of("../medqa-metrics/src/test/resources/pubmedqa/ori_pqal.json")
                .toFile());
        List<String> texts = new ArrayList<>();
        data.forEach(q -> texts.add(q.get("LONG_ANSWER").asText()));
        assertThat(texts).hasSize(1000);
        texts.addAll(List.of(
                "",
                " ",
                "  two leading",
                "tabs\tand\nnewlines\n\n",
                "naïve café 東京 🙂 \u0001",
                "a</s>b <s> [INST] x",
                "1234567890 3.14159",
                "▁already▁spaced"));
        try (GgufFile f = GgufFile.open(GGUF);
                Tokenizer ours = GgufTokenizer.load(f);
                Tokenizer theirs = reference()) {
            assertThat(ours.vocabSize()).isEqualTo(theirs.vocabSize());
            assertThat(ours.bosId()).isEqualTo(theirs.bosId());
            assertThat(ours.eosId()).isEqualTo(theirs.eosId());
            int tokens = 0;
            for (String text : texts) {
                int[] a = ours.encode(text);
                assertThat(a).as(text).isEqualTo(theirs.encode(text));
                assertThat(ours.decode(a)).isEqualTo(theirs.decode(a));
                tokens += a.length;
            }
            List<Message> chat = List.of(
                    Message.user("Is aspirin an NSAID?"), Message.assistant("Yes."), Message.user("And ibuprofen?"));
            assertThat(ChatTemplate.of(ours).encode(chat))
                    .isEqualTo(ChatTemplate.of(theirs).encode(chat));
            System.out.println(
                    "[figure] GGUF tokenizer: " + texts.size() + " texts, " + tokens + " tokens, all ids equal");
        }
    }

    @Test
    void aMissingTokenizerKeyIsNamed() throws Exception {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(256).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x46554747).putInt(3).putLong(0).putLong(1);
        byte[] key = "tokenizer.ggml.model".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] value = "llama".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        b.putLong(key.length).put(key).putInt(8).putLong(value.length).put(value);
        Path file = tmp.resolve("no-tokens.gguf");
        Files.write(file, java.util.Arrays.copyOf(b.array(), b.position()));
        try (GgufFile f = GgufFile.open(file)) {
            assertThat(GgufTokenizer.has(f)).isTrue();
            assertThatThrownBy(() -> GgufTokenizer.load(f))
                    .hasMessageContaining("metadata tokenizer.ggml.tokens is missing");
        }
    }

    @Test
    void otherTokenizerModelsAreRefused() throws Exception {
        byte[] file = Files.readAllBytes(GGUF);
        String s = new String(file, java.nio.charset.StandardCharsets.ISO_8859_1);
        int at = s.indexOf("tokenizer.ggml.model") + "tokenizer.ggml.model".length() + 4 + 8; // type, length
        System.arraycopy("gpt2x".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), 0, file, at, 5);
        Path bad = tmp.resolve("bad.gguf");
        Files.write(bad, file);
        try (GgufFile f = GgufFile.open(bad)) {
            assertThatThrownBy(() -> GgufTokenizer.load(f)).hasMessageContaining("tokenizer.ggml.model is \"gpt2x\"");
        }
    }

    /**
     * The fixture with one more metadata entry (written after the others; a key already there takes
     * the new value, as the reader keeps the last). The fixture has no tensors, so the metadata ends
     * where the chat template's value does.
     */
    static byte[] withMetadata(String key, int type, byte[] value) throws Exception {
        byte[] file = Files.readAllBytes(GGUF);
        String template;
        try (GgufFile f = GgufFile.open(GGUF)) {
            template = f.string("tokenizer.chat_template");
        }
        byte[] t = template.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        String s = new String(file, java.nio.charset.StandardCharsets.ISO_8859_1);
        int end = s.lastIndexOf(new String(t, java.nio.charset.StandardCharsets.ISO_8859_1)) + t.length;
        byte[] k = key.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(end + 12 + k.length + value.length)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put(file, 0, end).putLong(k.length).put(k).putInt(type).put(value);
        b.putLong(16, b.getLong(16) + 1); // the metadata count
        return b.array();
    }

    @Test
    void tokenIdsOutsideTheVocabularyAreNamed() throws Exception {
        Path bad = tmp.resolve("bad-bos.gguf");
        Files.write(bad, withMetadata("tokenizer.ggml.bos_token_id", 4, new byte[] {(byte) 0x9f, (byte) 0x86, 1, 0}));
        try (GgufFile f = GgufFile.open(bad)) {
            assertThatThrownBy(() -> GgufTokenizer.load(f))
                    .hasMessageContaining("tokenizer.ggml.bos_token_id is 99999, not one of the 32000 tokens");
        }
    }

    @Test
    void withoutTheSpacePrefixTheTextStartsAsWritten() throws Exception {
        Path plain = tmp.resolve("no-prefix.gguf");
        Files.write(plain, withMetadata("tokenizer.ggml.add_space_prefix", 7, new byte[] {0}));
        try (GgufFile f = GgufFile.open(plain);
                Tokenizer ours = GgufTokenizer.load(f);
                GgufFile g = GgufFile.open(GGUF);
                Tokenizer usual = GgufTokenizer.load(g)) {
            String text = "Hello world, aspirin";
            int[] without = ours.encode(text, false);
            int[] with = usual.encode(text, false);
            // SentencePiece without its dummy prefix: the first piece has no "▁", the rest is unchanged,
            // and decoding gives the text back without a space to strip.
            assertThat(usual.idToPiece(with[0])).isEqualTo("▁Hello");
            assertThat(ours.idToPiece(without[0])).isEqualTo("Hello");
            assertThat(java.util.Arrays.copyOfRange(without, 1, without.length))
                    .isEqualTo(java.util.Arrays.copyOfRange(with, 1, with.length));
            assertThat(ours.decode(without)).isEqualTo(text);
        }
    }
}
