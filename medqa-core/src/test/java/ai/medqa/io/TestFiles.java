package ai.medqa.io;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Fixture locations and a writer of deliberately malformed safetensors files. */
final class TestFiles {
    private TestFiles() {}

    static Path fixtures() {
        try {
            return Path.of(TestFiles.class.getResource("/fixtures").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A file whose header is {@code headerJson} verbatim, followed by {@code dataBytes} zero bytes. */
    static Path writeRaw(Path file, String headerJson, int dataBytes) throws IOException {
        byte[] header = headerJson.getBytes(StandardCharsets.UTF_8);
        return writeRaw(file, header.length, concat(header, new byte[dataBytes]));
    }

    /** An 8-byte little-endian length field with any value, then {@code rest}. */
    static Path writeRaw(Path file, long headerLengthField, byte[] rest) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(8 + rest.length).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(headerLengthField).put(rest);
        Files.write(file, buf.array());
        return file;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
