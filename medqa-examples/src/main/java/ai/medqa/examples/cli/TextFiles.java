package ai.medqa.examples.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Text input of the command line: strict UTF-8, {@code -} for standard input. */
final class TextFiles {
    private TextFiles() {}

    /**
     * The whole of {@code file} ({@code -}: standard input) as text.
     *
     * @throws IllegalArgumentException naming the file and line when it is not UTF-8, or when it is missing
     */
    static String read(String file, InputStream stdin) {
        byte[] bytes;
        String name = file.equals("-") ? "standard input" : file;
        try {
            if (file.equals("-")) {
                bytes = stdin.readAllBytes();
            } else {
                Path p = Path.of(file);
                if (Files.isDirectory(p)) {
                    throw new IllegalArgumentException(file + " is a directory, not a text file");
                }
                if (!Files.exists(p)) {
                    throw new IllegalArgumentException(file + ": no such file");
                }
                bytes = Files.readAllBytes(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + name + ": " + e.getMessage(), e);
        }
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(name + ": line " + badLine(bytes) + " is not valid UTF-8");
        }
    }

    /** The lines of a UTF-8 text file, as {@code BufferedReader.readLine} splits them; errors name file and line. */
    static List<String> lines(Path file) {
        return read(file.toString(), InputStream.nullInputStream()).lines().toList();
    }

    /** The 1-based line of the first byte sequence that is not UTF-8. */
    private static int badLine(byte[] bytes) {
        int line = 1;
        int start = 0;
        for (int i = 0; i <= bytes.length; i++) {
            if (i == bytes.length || bytes[i] == '\n') {
                try {
                    StandardCharsets.UTF_8
                            .newDecoder()
                            .onMalformedInput(CodingErrorAction.REPORT)
                            .decode(ByteBuffer.wrap(bytes, start, i - start));
                } catch (CharacterCodingException e) {
                    return line;
                }
                line++;
                start = i + 1;
            }
        }
        return line;
    }
}
