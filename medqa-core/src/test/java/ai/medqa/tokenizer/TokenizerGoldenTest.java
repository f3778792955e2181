package ai.medqa.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.tokenizer.MistralTokenizerFixture.Row;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Our ids against sentencepiece and transformers on the real Mistral-7B tokenizer. */
class TokenizerGoldenTest {
    /** The seven strings where Hugging Face's Metaspace skips the "▁" that sentencepiece adds. */
    static final Set<String> LEADING_SPACE_TEXTS =
            Set.of(" grabbed", "           grabbed", " \n", " ", "  ", "   leading spaces", "▁already metaspace");
    /** The three strings holding special-token strings, which transformers turns into control ids. */
    static final Set<String> SPECIAL_STRING_TEXTS = Set.of("</s>", "<unk>", "<s>[INST] Hi [/INST] Hello</s>");

    @TempDir
    static Path dir;

    static Tokenizer tokenizer;
    static List<Row> spRows;
    static List<Row> hfRows;

    @BeforeAll
    static void load() {
        tokenizer = Tokenizer.load(MistralTokenizerFixture.folder(dir, true));
        spRows = MistralTokenizerFixture.sentencepieceRows();
        hfRows = MistralTokenizerFixture.transformersRows();
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void goldenFilesHaveTheExpectedSize() {
        assertThat(spRows).hasSize(1043);
        assertThat(spRows.stream().filter(r -> r.kind().equals("pubmedqa-question")))
                .hasSize(1000);
        assertThat(hfRows).hasSize(143);
    }

    @Test
    void encodeEqualsTransformersOnAll143Rows() {
        List<String> wrong = mismatches(hfRows, Row::hfIds, tokenizer::encode);
        assertThat(wrong).as("rows where encode != transformers' ids_hf").isEmpty();
    }

    @Test
    void encodeEqualsSentencepieceExceptTheTenStringsWhereTransformersDiffers() {
        Map<String, int[]> hfByText = hfRows.stream().collect(Collectors.toMap(Row::text, Row::hfIds));
        Set<String> differing = new LinkedHashSet<>();
        int matched = 0;
        for (Row row : spRows) {
            int[] ids = tokenizer.encode(row.text());
            if (Arrays.equals(ids, row.spIds())) {
                matched++;
            } else {
                differing.add(row.text());
                assertThat(ids)
                        .as("%s differs from sentencepiece, so must equal transformers", row)
                        .isEqualTo(hfByText.get(row.text()));
            }
        }
        Set<String> expected = new LinkedHashSet<>(LEADING_SPACE_TEXTS);
        expected.addAll(SPECIAL_STRING_TEXTS);
        assertThat(differing).containsExactlyInAnyOrderElementsOf(expected);
        assertThat(matched).isEqualTo(1043 - 10);
    }

    @Test
    void encodeLiteralEqualsSentencepieceExceptLeadingSpaces() {
        Map<String, int[]> hfByText = hfRows.stream().collect(Collectors.toMap(Row::text, Row::hfIds));
        Set<String> differing = new LinkedHashSet<>();
        for (Row row : spRows) {
            int[] ids = tokenizer.encodeLiteral(row.text(), true);
            if (!Arrays.equals(ids, row.spIds())) {
                differing.add(row.text());
                // Leading spaces follow transformers (we keep one Metaspace behaviour for both methods).
                assertThat(ids).as(row.toString()).isEqualTo(hfByText.get(row.text()));
            }
        }
        assertThat(differing).containsExactlyInAnyOrderElementsOf(LEADING_SPACE_TEXTS);
    }

    @Test
    void specialTokenStringsTypedByAUserStayText() {
        assertThat(tokenizer.encodeLiteral("</s>", true)).containsExactly(1, 1867, 28713, 28767);
        assertThat(tokenizer.encodeLiteral("<unk>", true)).containsExactly(1, 523, 2060, 28767);
        assertThat(tokenizer.encodeLiteral("<s>[INST] Hi [/INST] Hello</s>", true))
                .containsExactly(
                        1, 523, 28713, 28767, 28792, 16289, 28793, 15359, 733, 28748, 16289, 28793, 22557, 700, 28713,
                        28767);
        assertThat(tokenizer.encodeLiteral("</s>", false)).containsExactly(1867, 28713, 28767);
        // The same strings through encode() are control ids, as in transformers.
        assertThat(tokenizer.encode("</s>")).containsExactly(1, 2);
        for (Row row : spRows) {
            int[] ids = tokenizer.encodeLiteral(row.text(), false);
            assertThat(ids).as(row.toString()).doesNotContain(0, 1, 2);
        }
    }

    @Test
    void encodeWithoutSpecialTokensLeavesOutBos() {
        assertThat(tokenizer.encode("grabbed", false)).containsExactly(13300);
        assertThat(tokenizer.encode("", true)).containsExactly(1);
        assertThat(tokenizer.encode("", false)).isEmpty();
        assertThat(tokenizer.encodeLiteral("", true)).containsExactly(1);
    }

    static List<String> mismatches(List<Row> rows, Function<Row, int[]> expected, Function<String, int[]> actual) {
        List<String> wrong = new ArrayList<>();
        for (Row row : rows) {
            int[] got = actual.apply(row.text());
            if (!Arrays.equals(got, expected.apply(row))) {
                wrong.add(row + ": expected " + Arrays.toString(expected.apply(row)) + " got " + Arrays.toString(got));
            }
        }
        return wrong;
    }
}
