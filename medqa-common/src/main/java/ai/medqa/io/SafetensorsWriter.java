package ai.medqa.io;

import ai.medqa.common.Staging;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes safetensors files as the Hugging Face writers do: {@code __metadata__} first, tensors
 * packed in the given order, the JSON header padded with spaces to a multiple of 8 bytes so the data
 * section is 8-byte aligned.
 *
 * <p>The write is atomic: the bytes go to a temporary file in the same folder, which is then moved
 * over the target, so a crash never leaves a half-written checkpoint under the real name.
 */
public final class SafetensorsWriter {
    private static final Logger log = LoggerFactory.getLogger(SafetensorsWriter.class);

    private SafetensorsWriter() {}

    /**
     * Writes {@code tensors} (in map order) and {@code metadata} to {@code file}, replacing it.
     *
     * @throws IllegalArgumentException for a tensor named "__metadata__" or an empty name
     * @throws CheckpointException if the file cannot be written
     */
    public static void write(Path file, Map<String, TensorData> tensors, Map<String, String> metadata) {
        byte[] header = header(tensors, metadata);
        Path target = file.toAbsolutePath();
        Path tmp = null;
        try {
            tmp = Staging.file(target);
            long dataBytes = 0;
            try (FileChannel ch =
                    FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer prefix = ByteBuffer.allocate(8)
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(header.length)
                        .flip();
                writeFully(ch, prefix);
                writeFully(ch, ByteBuffer.wrap(header));
                for (TensorData t : tensors.values()) {
                    dataBytes += t.data().remaining();
                    writeFully(ch, t.data().duplicate());
                }
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            tmp = null;
            log.debug("{}: wrote {} tensors, {} bytes of data", target, tensors.size(), dataBytes);
        } catch (IOException e) {
            throw new CheckpointException("cannot write safetensors file " + target + ": " + e, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    log.warn("cannot delete temporary file {}: {}", tmp, e.toString());
                }
            }
        }
    }

    private static byte[] header(Map<String, TensorData> tensors, Map<String, String> metadata) {
        ObjectNode root = SafetensorsFile.JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
            String name = e.getKey();
            if (name.isEmpty() || name.equals("__metadata__")) {
                throw new IllegalArgumentException("invalid tensor name \"" + name + "\"");
            }
            TensorData t = e.getValue();
            ObjectNode entry = root.putObject(name);
            entry.put("dtype", t.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            Arrays.stream(t.shape()).forEach(shape::add);
            long end = offset + t.data().remaining();
            entry.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json;
        try {
            json = SafetensorsFile.JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e); // a tree of strings and numbers always serializes
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] header = Arrays.copyOf(json, padded);
        Arrays.fill(header, json.length, padded, (byte) ' ');
        return header;
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
