package ai.medqa.server;

import java.util.Map;

/** A request the API refuses, in OpenAI's error shape: status, message, type and code. */
final class ApiException extends RuntimeException {
    final int status;
    final String type;
    final String code;
    final String param;
    final Map<String, String> headers;

    ApiException(int status, String type, String code, String param, String message, Map<String, String> headers) {
        super(message);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
        this.headers = headers;
    }

    /** 400 for a value of a known field, naming it. */
    static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", "invalid_value", param, param + ": " + message, Map.of());
    }

    static ApiException badRequest(String code, String message) {
        return new ApiException(400, "invalid_request_error", code, null, message, Map.of());
    }
}
