package ai.medqa.metrics;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/** Reads golden files from test resources (copied from shared/golden, never read from there). */
public final class Golden {
    public static final ObjectMapper JSON = Json.MAPPER;

    private Golden() {}

    public static InputStream open(String resource) {
        InputStream in = Golden.class.getResourceAsStream("/" + resource);
        if (in == null) {
            throw new IllegalStateException("missing test resource " + resource);
        }
        return in;
    }

    public static Path path(String resource) {
        try {
            return Paths.get(Golden.class.getResource("/" + resource).toURI());
        } catch (Exception e) {
            throw new IllegalStateException("missing test resource " + resource, e);
        }
    }

    public static List<JsonNode> jsonl(String resource) {
        List<JsonNode> rows = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(open(resource), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (!line.isBlank()) {
                    rows.add(JSON.readTree(line));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return rows;
    }

    public static JsonNode json(String resource) {
        try (InputStream in = open(resource)) {
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
