package ai.medqa.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The votes file: one whole JSON line per vote, appended by one writer at a time and forced to disk
 * before the vote is acknowledged, so concurrent votes never interleave and an acknowledged vote
 * survives a crash. (Appending, not rewriting: the file only grows, so there is no half file to
 * avoid by moving a temporary one into place.)
 */
final class FeedbackLog implements AutoCloseable {
    private final Path file;
    private final FileChannel channel;

    FeedbackLog(Path file) throws IOException {
        this.file = file;
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        this.channel =
                FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    Path file() {
        return file;
    }

    synchronized void append(String jsonLine) throws IOException {
        if (jsonLine.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("a feedback record must be one line");
        }
        ByteBuffer bytes = ByteBuffer.wrap((jsonLine + "\n").getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) {
            channel.write(bytes);
        }
        channel.force(false);
    }

    @Override
    public synchronized void close() throws IOException {
        channel.close();
    }
}
