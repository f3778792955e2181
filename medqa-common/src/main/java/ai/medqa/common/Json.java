package ai.medqa.common;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/**
 * One Jackson configuration for every module (the shared mapper and its indented writer), and the
 * one way to read a JSON object from a file or a JSON Lines line with errors that say where.
 */
public final class Json {
    /** Jackson's defaults; thread-safe once built, so one instance serves every reader and writer. */
    public static final ObjectMapper MAPPER = new ObjectMapper();
    /** For files people read (adapter configs, conversations, trainer state): indented. */
    public static final ObjectWriter PRETTY = MAPPER.writerWithDefaultPrettyPrinter();

    private Json() {}

    /**
     * The JSON object in {@code file}. Failures become {@code error.apply(message, cause)}, the
     * reader's own exception, with messages that start with the file: {@code ifMissing} when it does
     * not exist (null: "cannot read"), "not valid JSON: ...", "expected a JSON object".
     */
    public static ObjectNode readObject(
            Path file, String ifMissing, BiFunction<String, Exception, ? extends RuntimeException> error) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw error.apply(file + ": " + (ifMissing != null ? ifMissing : "cannot read: " + e), e);
        } catch (IOException e) {
            throw error.apply(file + ": cannot read: " + e, e);
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(bytes);
        } catch (IOException e) {
            throw error.apply(file + ": not valid JSON: " + message(e), e);
        }
        return object(root, file.toString(), error);
    }

    /** One JSON object from {@code text} (a JSON Lines line); {@code where} ("file: line 3") starts the errors. */
    public static ObjectNode parseObject(
            String text, String where, BiFunction<String, Exception, ? extends RuntimeException> error) {
        JsonNode root;
        try {
            root = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw error.apply(where + ": not valid JSON: " + message(e), e);
        }
        return object(root, where, error);
    }

    /** One record of a JSON Lines file: its 1-based line, "file: line n" for messages, and the object. */
    @FunctionalInterface
    public interface LineHandler {
        void accept(int line, String where, ObjectNode record);
    }

    /**
     * Each non-blank line of the UTF-8 JSON Lines {@code file}, parsed as {@link #parseObject} does, in
     * file order; a file that cannot be read is {@code error.apply("cannot read <file>: ...", cause)}.
     */
    public static void forEachLine(
            Path file, BiFunction<String, Exception, ? extends RuntimeException> error, LineHandler each) {
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (!line.isBlank()) {
                    String where = file + ": line " + n;
                    each.accept(n, where, parseObject(line, where, error));
                }
            }
        } catch (IOException e) {
            throw error.apply("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** The record's field names, for an error that says what a line does have. */
    public static String fieldNames(ObjectNode record) {
        List<String> names = new ArrayList<>();
        record.fieldNames().forEachRemaining(names::add);
        return names.isEmpty() ? "no fields" : String.join(", ", names);
    }

    private static ObjectNode object(
            JsonNode root, String where, BiFunction<String, Exception, ? extends RuntimeException> error) {
        if (root instanceof ObjectNode o) {
            return o;
        }
        throw error.apply(where + ": expected a JSON object", null);
    }

    private static String message(IOException e) {
        return e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
    }
}
