package ai.medqa.common;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A JSON Lines file that a long job appends to one finished record at a time, so that a job killed
 * at any moment continues where it stopped: each line is written whole and synced, and opening the
 * file again drops a half-written last line (a kill mid-write) before reading what is complete.
 */
public final class AppendLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AppendLog.class);

    private final Path file;
    private final List<ObjectNode> lines;
    private FileChannel channel;

    private AppendLog(Path file, List<ObjectNode> lines) {
        this.file = file;
        this.lines = lines;
    }

    /**
     * The complete lines of {@code file} (none if it does not exist), its half-written tail cut off.
     * Nothing is opened for writing until the first {@link #append}.
     *
     * @throws IllegalStateException naming the file and line when a complete line is not a JSON object
     */
    public static AppendLog open(Path file) {
        List<ObjectNode> lines = new ArrayList<>();
        if (Files.exists(file)) {
            try {
                byte[] bytes = Files.readAllBytes(file);
                int end = bytes.length;
                while (end > 0 && bytes[end - 1] != '\n') {
                    end--;
                }
                if (end < bytes.length) {
                    log.warn(
                            "{}: dropping a half-written last line ({} bytes); its record is done again",
                            file,
                            bytes.length - end);
                    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                        ch.truncate(end);
                    }
                }
                int n = 0;
                for (String line : new String(bytes, 0, end, StandardCharsets.UTF_8).split("\n", -1)) {
                    n++;
                    if (line.isBlank()) {
                        continue;
                    }
                    JsonNode node;
                    try {
                        node = Json.MAPPER.readTree(line);
                    } catch (IOException e) {
                        throw new IllegalStateException(file + ": line " + n + " is not JSON: " + e.getMessage(), e);
                    }
                    if (!(node instanceof ObjectNode o)) {
                        throw new IllegalStateException(file + ": line " + n + " is not a JSON object");
                    }
                    lines.add(o);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
            }
        }
        return new AppendLog(file, lines);
    }

    public Path file() {
        return file;
    }

    /** The complete lines found when the log was opened (not those appended since). */
    public List<ObjectNode> lines() {
        return List.copyOf(lines);
    }

    /** Writes {@code record} as one line in one write, then syncs it to the disk. */
    public void append(JsonNode record) {
        try {
            if (channel == null) {
                if (file.toAbsolutePath().getParent() != null) {
                    Files.createDirectories(file.toAbsolutePath().getParent());
                }
                channel = FileChannel.open(
                        file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            }
            ByteBuffer bytes =
                    ByteBuffer.wrap((Json.MAPPER.writeValueAsString(record) + "\n").getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
            channel.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot close " + file + ": " + e.getMessage(), e);
            }
        }
    }
}
