package ai.medqa.server;

import java.util.Map;
import java.util.Set;

/**
 * A request the API refuses, in OpenAI's error shape: status, message, type and code. Made by the
 * factories, one per status, so that a status always goes with the same type and headers.
 */
final class ApiException extends RuntimeException {
    private static final String INVALID_REQUEST = "invalid_request_error";

    final int status;
    final String type;
    final String code;
    final String param;
    final Map<String, String> headers;

    private ApiException(
            int status, String type, String code, String param, String message, Map<String, String> headers) {
        super(message);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
        this.headers = headers;
    }

    private static ApiException refused(int status, String code, String param, String message) {
        return new ApiException(status, INVALID_REQUEST, code, param, message, Map.of());
    }

    /** 400 for a value of a known field, naming it. */
    static ApiException invalid(String param, String message) {
        return badRequest("invalid_value", param, param + ": " + message);
    }

    static ApiException badRequest(String code, String message) {
        return badRequest(code, null, message);
    }

    /** 400 naming the field at fault ({@code param}, null for none). */
    static ApiException badRequest(String code, String param, String message) {
        return refused(400, code, param, message);
    }

    /** 401: a missing or wrong API key; the header tells the client how to send one. */
    static ApiException unauthorized(String message) {
        return new ApiException(
                401, INVALID_REQUEST, "invalid_api_key", null, message, Map.of("WWW-Authenticate", "Bearer"));
    }

    static ApiException forbidden(String code, String message) {
        return refused(403, code, null, message);
    }

    /** 404 for a path, model, adapter or record ({@code param}, null for none) that is not here. */
    static ApiException notFound(String code, String param, String message) {
        return refused(404, code, param, message);
    }

    /** 404 for a {@code model} that is neither the served model nor one of its adapters, as OpenAI words it. */
    static ApiException modelNotFound(String id, String served, Set<String> adapters) {
        return notFound(
                "model_not_found",
                "model",
                "The model `" + id + "` does not exist (served: " + served
                        + (adapters.isEmpty() ? "" : ", adapters " + adapters) + ").");
    }

    /** 405; {@code allow} lists the methods the path answers. */
    static ApiException methodNotAllowed(String message, String allow) {
        return new ApiException(405, INVALID_REQUEST, "method_not_allowed", null, message, Map.of("Allow", allow));
    }

    static ApiException conflict(String code, String param, String message) {
        return refused(409, code, param, message);
    }

    static ApiException tooLarge(String message) {
        return refused(413, "body_too_large", null, message);
    }

    static ApiException unsupportedMediaType(String message) {
        return refused(415, "unsupported_media_type", null, message);
    }

    /** 429: come back in {@code retryAfterSeconds}. */
    static ApiException tooManyRequests(String code, String message, long retryAfterSeconds) {
        return new ApiException(
                429, "rate_limit_error", code, null, message, Map.of("Retry-After", Long.toString(retryAfterSeconds)));
    }

    /** 500: the server's fault, not the request's. */
    static ApiException internal(String message) {
        return new ApiException(500, "server_error", "internal_error", null, message, Map.of());
    }

    /** 503: the server cannot serve it now (loading, stopping, busy). */
    static ApiException unavailable(String code, String message) {
        return new ApiException(503, "server_error", code, null, message, Map.of());
    }

    /** 503 that says when to come back. */
    static ApiException unavailable(String code, String message, long retryAfterSeconds) {
        return new ApiException(
                503, "server_error", code, null, message, Map.of("Retry-After", Long.toString(retryAfterSeconds)));
    }
}
