package ai.medqa.metrics.judge;

import ai.medqa.metrics.MetricsException;
import java.net.URI;

/**
 * A chat-completions endpoint could not give a usable reply: a status that retrying cannot fix
 * (400, 401, 404, ...), the last of the retries failing, or a reply without a message. The message
 * names the endpoint, the status and the number of attempts; it never contains the API key.
 */
public class JudgeHttpException extends MetricsException {
    private static final long serialVersionUID = 1L;

    private final URI endpoint;
    private final int status;
    private final int attempts;

    JudgeHttpException(String message, URI endpoint, int status, int attempts, Throwable cause) {
        super(message, cause);
        this.endpoint = endpoint;
        this.status = status;
        this.attempts = attempts;
    }

    public URI endpoint() {
        return endpoint;
    }

    /** The HTTP status of the last response, or -1 when the last attempt got none (timeout, I/O error). */
    public int status() {
        return status;
    }

    public int attempts() {
        return attempts;
    }
}
