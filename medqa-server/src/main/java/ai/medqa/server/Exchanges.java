package ai.medqa.server;

import ai.medqa.common.Json;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Reading a request's body and writing a whole response, for every endpoint. */
final class Exchanges {
    private static final Logger log = LoggerFactory.getLogger(MedQAServer.class); // the server's log, as before

    private Exchanges() {}

    /** The body as JSON, at most {@code --max-body} bytes. */
    static JsonNode readJson(HttpExchange ex, ServerOptions options) throws IOException {
        return readJson(ex, options.maxBody(), "--max-body");
    }

    /**
     * The body as JSON, at most {@code limit} bytes ({@code what} names the limit in the error). A
     * larger body gets 413; the rest of it is read and dropped first (up to a bound), so that the
     * client, still sending, reads the error instead of a reset connection.
     */
    static JsonNode readJson(HttpExchange ex, int limit, String what) throws IOException {
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        byte[] body;
        InputStream in = ex.getRequestBody();
        if (length != null && length.trim().matches("\\d{1,18}") && Long.parseLong(length.trim()) > limit) {
            body = null;
        } else {
            try {
                body = in.readNBytes(limit + 1);
            } catch (IOException e) {
                // A malformed chunked body (or one cut short): say so; a client that is gone never reads it.
                ex.getResponseHeaders().set("Connection", "close");
                throw ApiException.badRequest("invalid_body", "the request body could not be read: " + e.getMessage());
            }
        }
        if (body == null || body.length > limit) {
            drain(ex);
            throw ApiException.tooLarge(
                    "the request body is larger than " + "the server's limit of " + limit + " bytes (" + what + ")");
        }
        try {
            return Json.MAPPER.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest("invalid_json", "the body is not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** Reads and drops what is left of the request body, up to 64 MiB; beyond that the connection closes. */
    static void drain(HttpExchange ex) {
        try {
            InputStream in = ex.getRequestBody();
            byte[] buf = new byte[64 * 1024];
            long left = 64L << 20;
            int n;
            while (left > 0 && (n = in.read(buf, 0, (int) Math.min(buf.length, left))) > 0) {
                left -= n;
            }
            if (left <= 0) {
                ex.getResponseHeaders().set("Connection", "close");
            }
        } catch (IOException e) {
            log.debug("draining a refused request body", e);
        }
    }

    static void sendError(HttpExchange ex, ApiException e) {
        try {
            e.headers.forEach((k, v) -> ex.getResponseHeaders().set(k, v));
            sendJson(ex, e.status, OpenAiJson.error(e));
        } catch (IOException | RuntimeException io) {
            log.debug("could not send the error (headers already sent or client gone)", io);
        }
    }

    static int sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        return send(ex, status, "application/json", Json.MAPPER.writeValueAsString(body));
    }

    static int send(HttpExchange ex, int status, String type, String body) throws IOException {
        return send(ex, status, type, body.getBytes(StandardCharsets.UTF_8));
    }

    /** A whole response; to HEAD, its headers only. */
    static int send(HttpExchange ex, int status, String type, byte[] bytes) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseHeaders().set("Content-Length", Integer.toString(bytes.length));
            ex.sendResponseHeaders(status, -1);
            return status;
        }
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
        return status;
    }
}
