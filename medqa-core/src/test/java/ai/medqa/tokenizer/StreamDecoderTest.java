package ai.medqa.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.tokenizer.MistralTokenizerFixture.Row;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Streaming gives exactly decode(all ids), piece by piece, never half a character. */
class StreamDecoderTest {
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

    /** Streams {@code ids}, checks every piece and the total against decode, returns the largest window. */
    static int streamEqualsDecode(int[] ids, boolean skipSpecialTokens, String label) {
        Tokenizer.StreamDecoder stream = tokenizer.newStreamDecoder(skipSpecialTokens);
        String expected = tokenizer.decode(ids, skipSpecialTokens);
        StringBuilder streamed = new StringBuilder();
        int maxWindow = 0;
        for (int id : ids) {
            String piece = stream.push(id);
            maxWindow = Math.max(maxWindow, stream.windowSize());
            if (!piece.isEmpty()) {
                assertThat(Character.isHighSurrogate(piece.charAt(piece.length() - 1)))
                        .as("%s: a piece ends inside a surrogate pair", label)
                        .isFalse();
            }
            if (!expected.startsWith(piece, streamed.length())) {
                assertThat(streamed + piece)
                        .as("%s: streamed text must be a prefix of decode", label)
                        .isEqualTo(
                                expected.substring(0, Math.min(expected.length(), streamed.length() + piece.length())));
            }
            streamed.append(piece);
        }
        streamed.append(stream.finish());
        assertThat(streamed.toString()).as(label).isEqualTo(expected);
        return maxWindow;
    }

    @Test
    void everyGoldenLineStreamsToItsDecode() {
        int checked = 0;
        for (Row row : rows) {
            for (boolean skip : new boolean[] {true, false}) {
                streamEqualsDecode(row.spIds(), skip, "sentencepiece ids of " + row);
                streamEqualsDecode(tokenizer.encode(row.text()), skip, "encode of " + row);
                streamEqualsDecode(tokenizer.encodeLiteral(row.text(), true), skip, "encodeLiteral of " + row);
                checked += 3;
            }
        }
        assertThat(checked).isEqualTo(1043 * 6);
    }

    @Test
    void byteFallbackCharactersAreEmittedWhole() {
        // "β-blocker 5 µg/mL 👩🏽‍⚕️": β, µ and the emoji are spelled with <0xXX> tokens.
        String text = "β-blocker 5 µg/mL 👩🏽‍⚕️ done";
        int[] ids = tokenizer.encodeLiteral(text, true);
        Tokenizer.StreamDecoder stream = tokenizer.newStreamDecoder();
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            pieces.add(stream.push(id));
        }
        pieces.add(stream.finish());
        assertThat(String.join("", pieces)).isEqualTo(text);
        assertThat(pieces).noneMatch(p -> p.contains("\uFFFD"));
        // Whole code points only (the ZWJ of the emoji is a vocabulary piece of its own, so the
        // emoji may arrive as whole parts, but never as a broken surrogate pair or byte).
        assertThat(pieces)
                .allMatch(p -> p.isEmpty()
                        || (!Character.isLowSurrogate(p.charAt(0))
                                && !Character.isHighSurrogate(p.charAt(p.length() - 1))));
        assertThat(pieces).contains("µ", "👩🏽");
    }

    @Test
    void spacesBetweenWordsAreKeptAndOnlyTheFirstIsStripped() {
        int[] ids = tokenizer.encode("Is aspirin  safe?");
        StringBuilder text = new StringBuilder();
        Tokenizer.StreamDecoder stream = tokenizer.newStreamDecoder();
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            String piece = stream.push(id);
            pieces.add(piece);
            text.append(piece);
        }
        text.append(stream.finish());
        assertThat(text.toString()).isEqualTo("Is aspirin  safe?");
        assertThat(pieces.get(1)).isEqualTo("Is");
        // A lone "▁" at the very start is the stripped prefix; later it is a real space.
        streamEqualsDecode(new int[] {28705, 28705, 13300}, true, "leading ▁ ▁ grabbed");
        streamEqualsDecode(new int[] {1, 28705, 13300, 2, 28705, 13300}, true, "specials between words");
    }

    @Test
    void unfinishedByteRunsComeOutAtFinishAsDecodeHasThem() {
        int c2 = 3 + 0xC2;
        Tokenizer.StreamDecoder stream = tokenizer.newStreamDecoder();
        assertThat(stream.push(13300)).isEqualTo("grabbed");
        assertThat(stream.push(c2)).isEmpty();
        assertThat(stream.finish()).isEqualTo("\uFFFD");
        assertThat(stream.finish()).isEmpty();
        assertThatThrownBy(() -> stream.push(13300)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void randomSequencesOfBytesSpecialsSpacesAndWordsStreamExactly() {
        // Generated text need not be valid UTF-8 nor well formed: invalid byte runs, specials in the
        // middle of a run, runs of "▁". The stream must still equal decode.
        int[] words = tokenizer.encodeLiteral("The patients' β-blocker dose (µg/mL) was 5.0 — 日本 😀", false);
        int[] others = {
            0, 1, 2, 28705, 259, 13, 3 + 0xC2, 3 + 0xB5, 3 + 0xE2, 3 + 0x80, 3 + 0x94, 3 + 0xF0, 3 + 0x9F, 3 + 0x98,
            3 + 0x80, 3 + 0xFF, 3 + 0x41
        };
        Random random = new Random(20240531);
        for (int n = 0; n < 2000; n++) {
            int[] ids = new int[1 + random.nextInt(30)];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextBoolean()
                        ? words[random.nextInt(words.length)]
                        : others[random.nextInt(others.length)];
            }
            streamEqualsDecode(ids, n % 2 == 0, "random sequence " + n + " " + java.util.Arrays.toString(ids));
        }
    }

    @Test
    void theWindowStaysSmallOverALongGeneration() {
        StringBuilder all = new StringBuilder();
        for (Row row : rows) {
            all.append(row.text()).append(' ');
        }
        int[] ids = tokenizer.encodeLiteral(all.toString(), true);
        assertThat(ids.length).isGreaterThan(20_000);
        int maxWindow = streamEqualsDecode(ids, true, "all golden text in one stream");
        // Bounded by the longest byte-fallback run (the emoji), not by the length of the text.
        assertThat(maxWindow).isLessThan(40);
    }
}
