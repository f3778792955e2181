package ai.medqa.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.tokenizer.MistralTokenizerFixture.Row;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** decode gives the text back; the exceptions are the documented leading-space and special-token ones. */
class TokenizerDecodeTest {
    @TempDir
    static Path dir;

    static Tokenizer tokenizer;
    static List<Row> rows;

    @BeforeAll
    static void load() {
        tokenizer = Tokenizer.load(MistralTokenizerFixture.folder(dir, true));
        rows = MistralTokenizerFixture.sentencepieceRows();
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void allThousandQuestionsRoundTripThroughEncodeAndEncodeLiteral() {
        List<Row> questions =
                rows.stream().filter(r -> r.kind().equals("pubmedqa-question")).toList();
        assertThat(questions).hasSize(1000);
        for (Row q : questions) {
            assertThat(tokenizer.decode(tokenizer.encode(q.text())))
                    .as(q.toString())
                    .isEqualTo(q.text());
            assertThat(tokenizer.decode(tokenizer.encodeLiteral(q.text(), true)))
                    .as(q.toString())
                    .isEqualTo(q.text());
            assertThat(tokenizer.decode(q.spIds())).as(q.toString()).isEqualTo(q.text());
        }
    }

    @Test
    void sentencepieceIdsDecodeToTheirTextExceptALiteralMetaspaceCharacter() {
        Set<String> lost = new LinkedHashSet<>();
        for (Row row : rows) {
            if (!tokenizer.decode(row.spIds()).equals(row.text())) {
                lost.add(row.text());
            }
        }
        // "▁" in the text is the same piece as a space: it comes back as " ".
        assertThat(lost).containsExactly("▁already metaspace");
        assertThat(tokenizer.decode(tokenizer.encodeLiteral("▁already metaspace", true)))
                .isEqualTo("already metaspace");
    }

    @Test
    void ourIdsRoundTripExceptOneLeadingSpace() {
        Set<String> literalLost = new LinkedHashSet<>();
        Set<String> encodeLost = new LinkedHashSet<>();
        for (Row row : rows) {
            String literal = tokenizer.decode(tokenizer.encodeLiteral(row.text(), true));
            if (!literal.equals(row.text())) {
                literalLost.add(row.text());
                // The only loss: the first leading space (or "▁"), which Hugging Face encodes without
                // the extra "▁" that decode strips.
                assertThat(" " + literal)
                        .as(row.toString())
                        .isEqualTo(row.text().replace('▁', ' '));
            }
            if (!tokenizer.decode(tokenizer.encode(row.text())).equals(row.text())) {
                encodeLost.add(row.text());
            }
        }
        assertThat(literalLost).containsExactlyInAnyOrderElementsOf(TokenizerGoldenTest.LEADING_SPACE_TEXTS);
        Set<String> expected = new LinkedHashSet<>(TokenizerGoldenTest.LEADING_SPACE_TEXTS);
        expected.addAll(TokenizerGoldenTest.SPECIAL_STRING_TEXTS); // control ids are skipped by decode
        assertThat(encodeLost).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void specialTokensAreSkippedOrShownOnRequest() {
        assertThat(tokenizer.decode(new int[] {1, 13300, 2})).isEqualTo("grabbed");
        assertThat(tokenizer.decode(new int[] {1, 13300, 2}, false)).isEqualTo("<s> grabbed</s>");
        assertThat(tokenizer.decode(new int[] {1, 28705, 13300}, true)).isEqualTo(" grabbed");
        assertThat(tokenizer.decode(new int[] {13300, 1, 13300}, true)).isEqualTo("grabbed grabbed");
        assertThat(tokenizer.decode(new int[0])).isEmpty();
    }

    @Test
    void byteFallbackTokensJoinIntoCharactersAndInvalidRunsBecomeReplacementCharacters() {
        int[] micro = tokenizer.encodeLiteral("µg/mL", false);
        assertThat(tokenizer.decode(micro)).isEqualTo("µg/mL");
        int c2 = 3 + 0xC2;
        int b5 = 3 + 0xB5;
        int ff = 3 + 0xFF;
        assertThat(tokenizer.idToPiece(c2)).isEqualTo("<0xC2>");
        assertThat(tokenizer.decode(new int[] {c2, b5})).isEqualTo("µ");
        assertThat(tokenizer.decode(new int[] {c2})).isEqualTo("\uFFFD");
        // One invalid byte spoils its whole run, as in the tokenizers library.
        assertThat(tokenizer.decode(new int[] {c2, b5, ff, 13300})).isEqualTo("\uFFFD\uFFFD\uFFFD grabbed");
    }

    @Test
    void aPromptOfMoreThan5000TokensIsNotTruncated() {
        List<String> questions = rows.stream()
                .filter(r -> r.kind().equals("pubmedqa-question"))
                .map(Row::text)
                .toList();
        String text = String.join(" ", questions);
        int[] ids = tokenizer.encode(text);
        assertThat(ids.length).isGreaterThan(5000);
        assertThat(tokenizer.encodeLiteral(text, true)).isEqualTo(ids);
        assertThat(tokenizer.decode(ids)).isEqualTo(text);
        // Every question keeps all its ids: joined by spaces, the text splits into the questions' own
        // ids (each starts with "▁"), so nothing was cut at 512 or anywhere else.
        List<Integer> expected = new ArrayList<>(List.of(1));
        for (String q : questions) {
            for (int id : tokenizer.encode(q, false)) {
                expected.add(id);
            }
        }
        assertThat(ids)
                .containsExactly(expected.stream().mapToInt(Integer::intValue).toArray());
    }

    @Test
    void unknownIdsAreRejected() {
        assertThatThrownBy(() -> tokenizer.decode(new int[] {1, 32000}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("32000");
        assertThatThrownBy(() -> tokenizer.decode(new int[] {-1})).isInstanceOf(IllegalArgumentException.class);
    }
}
