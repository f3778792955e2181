package ai.medqa.metrics;

/**
 * A failure the caller can act on: a malformed input record, a bad argument to a metric, or a report
 * that could not be written. The message names the record, field or file involved.
 *
 * <p>Unchecked because callers usually cannot recover record by record; they fix the input.
 * medqa-metrics does not see medqa-core, so this is its own type rather than MedQAException.
 */
public class MetricsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public MetricsException(String message) {
        super(message);
    }

    public MetricsException(String message, Throwable cause) {
        super(message, cause);
    }
}
