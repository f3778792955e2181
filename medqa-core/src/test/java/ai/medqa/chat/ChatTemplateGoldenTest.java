package ai.medqa.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.chat.ChatFixture.Row;
import ai.medqa.chat.Message.Role;
import ai.medqa.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chat template against transformers' apply_chat_template (golden/chat_template.jsonl) and
 * against ids derived without Hugging Face code (golden/chat_literal.jsonl: the template's control
 * tokens plus sentencepiece ids of the text between them).
 */
class ChatTemplateGoldenTest {
    private static final int BOS = 1;
    private static final int EOS = 2;

    @TempDir
    static Path dir;

    static Tokenizer tokenizer;
    /** The v0.1 template exactly as transformers runs it: no folding, so a system message raises. */
    static ChatTemplate raw;

    static ChatTemplate jinja;
    static ChatTemplate builtIn;

    @BeforeAll
    static void load() {
        tokenizer = Tokenizer.load(ChatFixture.tokenizerFolder(dir, true));
        raw = new JinjaChatTemplate(tokenizer, ChatFixture.instructV01Template(), false);
        jinja = ChatTemplate.of(tokenizer);
        builtIn = ChatTemplate.mistral(tokenizer);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void goldenFilesHaveTheExpectedRows() {
        assertThat(ChatFixture.transformersRows()).hasSize(7);
        assertThat(ChatFixture.literalRows()).hasSize(12);
        assertThat(jinja).isInstanceOf(JinjaChatTemplate.class);
    }

    @Test
    void everyGoldenRowWithoutSpecialStringsGivesTransformersTextAndIds() {
        int compared = 0;
        for (Row row : ChatFixture.transformersRows()) {
            if (row.error() != null || hasSpecialString(row.messages())) {
                continue;
            }
            for (ChatTemplate template : List.of(raw, jinja, builtIn)) {
                assertThat(template.render(row.messages(), row.addGenerationPrompt()))
                        .as("%s text", row)
                        .isEqualTo(row.text());
                assertThat(template.encode(row.messages(), row.addGenerationPrompt()))
                        .as("%s ids", row)
                        .isEqualTo(row.ids());
            }
            compared++;
        }
        assertThat(compared).isEqualTo(5);
    }

    @Test
    void systemMessageRowRaisesWithTheRawTemplateAndIsFoldedOtherwise() {
        Row row = row("system_message");
        assertThat(row.error())
                .isEqualTo("TemplateError: Conversation roles must alternate user/assistant/user/assistant/...");
        assertThatThrownBy(() -> raw.encode(row.messages(), false))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessage(row.error().substring("TemplateError: ".length()));

        List<Message> folded = List.of(Message.user("You are a helpful assistant.\n\nHello"));
        int[] expected = raw.encode(folded, false);
        assertThat(jinja.encode(row.messages(), false)).isEqualTo(expected);
        assertThat(builtIn.encode(row.messages(), false)).isEqualTo(expected);
        assertThat(jinja.render(row.messages(), false))
                .isEqualTo("<s>[INST] You are a helpful assistant.\n\nHello [/INST]");
        assertThat(expected).isEqualTo(literalRow("system_message").ids());
    }

    /**
     * transformers turns "</s>" and "<s>" typed by the user into ids 2 and 1; we keep them text.
     * Expected ids built independently: the golden ids with each "▁" + control id pair replaced by
     * sentencepiece's ids of "▁</s>" / "▁<s>" (golden/mistral_tokenizer.jsonl, which encodes those
     * strings as text).
     */
    @Test
    void specialStringsTypedByTheUserStayTextWhereTransformersMakesControlIds() {
        Row row = row("specials_in_text");
        int[] golden = row.ids();
        assertThat(count(golden, EOS)).isEqualTo(1);
        assertThat(count(golden, BOS)).isEqualTo(2);

        int metaspace = tokenizer.idOf("▁");
        int[] eosAsText = Arrays.copyOfRange(ChatFixture.sentencepieceIds("</s>"), 1, 4); // ▁</ s >
        int[] bosAsText =
                Arrays.copyOfRange(ChatFixture.sentencepieceIds("<s>[INST] Hi [/INST] Hello</s>"), 1, 4); // ▁< s >
        assertThat(eosAsText).containsExactly(1867, 28713, 28767);
        assertThat(bosAsText).containsExactly(523, 28713, 28767);
        List<Integer> expected = new ArrayList<>();
        expected.add(golden[0]);
        int replaced = 0;
        for (int i = 1; i < golden.length; i++) {
            if (golden[i] == metaspace && i + 1 < golden.length && (golden[i + 1] == EOS || golden[i + 1] == BOS)) {
                for (int id : golden[i + 1] == EOS ? eosAsText : bosAsText) {
                    expected.add(id);
                }
                i++;
                replaced++;
            } else {
                expected.add(golden[i]);
            }
        }
        assertThat(replaced).isEqualTo(2);
        int[] expectedIds = expected.stream().mapToInt(Integer::intValue).toArray();

        for (ChatTemplate template : List.of(raw, jinja, builtIn)) {
            int[] ids = template.encode(row.messages(), false);
            assertThat(ids)
                    .isEqualTo(expectedIds)
                    .isEqualTo(literalRow("specials_in_text").ids());
            assertThat(ids).as("only the template's BOS").containsOnlyOnce(BOS).doesNotContain(EOS);
            assertThat(ids[0]).isEqualTo(BOS);
            // the text is still what transformers renders: only its ids differ
            assertThat(template.render(row.messages(), false)).isEqualTo(row.text());
        }
    }

    /** All 12 rows of the sentencepiece-derived golden, through the Jinja template and the built-in format. */
    @Test
    void everyLiteralGoldenRowIsMatchedByJinjaAndBuiltIn() {
        for (Row row : ChatFixture.literalRows()) {
            assertThat(jinja.encode(row.messages())).as("%s, jinja", row).isEqualTo(row.ids());
            assertThat(builtIn.encode(row.messages())).as("%s, built-in", row).isEqualTo(row.ids());
            // The rows that hold special strings are exactly those where transformers differs.
            assertThat(Arrays.equals(row.ids(), row.transformersIds()))
                    .as("%s equals transformers", row)
                    .isEqualTo(!hasSpecialString(row.messages()));
            // BOS once at the start, EOS only after each assistant message (the template's own).
            long assistants = row.messages().stream()
                    .filter(m -> m.role() == Role.ASSISTANT)
                    .count();
            assertThat(count(row.ids(), BOS)).as("%s BOS", row).isEqualTo(1);
            assertThat(count(row.ids(), EOS)).as("%s EOS", row).isEqualTo(assistants);
            assertThat(count(row.ids(), tokenizer.unkId())).as("%s UNK", row).isZero();
        }
    }

    private static Row row(String name) {
        return ChatFixture.transformersRows().stream()
                .filter(r -> r.name().equals(name))
                .findFirst()
                .orElseThrow();
    }

    private static Row literalRow(String name) {
        return ChatFixture.literalRows().stream()
                .filter(r -> r.name().equals(name))
                .findFirst()
                .orElseThrow();
    }

    static boolean hasSpecialString(List<Message> messages) {
        return messages.stream()
                .map(Message::content)
                .anyMatch(c -> c.contains("<s>") || c.contains("</s>") || c.contains("<unk>"));
    }

    static long count(int[] ids, int id) {
        return Arrays.stream(ids).filter(x -> x == id).count();
    }
}
