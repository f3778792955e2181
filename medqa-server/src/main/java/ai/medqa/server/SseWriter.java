package ai.medqa.server;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A streamed response as Server-Sent Events, the way OpenAI streams: one {@code data:} event per
 * JSON chunk, flushed at once so the client sees each piece as it is decoded, and {@code [DONE]}
 * last. A write to a client that went away throws IOException.
 */
final class SseWriter {
    private final OutputStream out;

    /** Sends the status and headers: from here on an error can only go in the stream. */
    SseWriter(HttpExchange ex) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, 0);
        this.out = ex.getResponseBody();
    }

    void event(JsonNode chunk) throws IOException {
        write("data: " + Json.MAPPER.writeValueAsString(chunk) + "\n\n");
    }

    /** An error after the headers went out, in OpenAI's error shape. */
    void error(ApiException e) throws IOException {
        write("data: " + OpenAiJson.error(e).toString() + "\n\n");
    }

    void done() throws IOException {
        write("data: [DONE]\n\n");
    }

    private void write(String event) throws IOException {
        out.write(event.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
