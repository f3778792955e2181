package ai.medqa.metrics;

import ai.medqa.common.MedQAException;

/**
 * A failure the caller can act on: a malformed input record, a bad argument to a metric, or a report
 * that cannot be written where asked. The message names the record, field or file involved; a write
 * that fails midway comes from {@link ai.medqa.common.AtomicFiles} as a plain {@link MedQAException}.
 *
 * <p>Unchecked because callers usually cannot recover record by record; they fix the input. A
 * {@link MedQAException} (medqa-common's base, which also reports failed atomic writes), so one catch
 * serves every module.
 */
public class MetricsException extends MedQAException {
    private static final long serialVersionUID = 1L;

    public MetricsException(String message) {
        super(message);
    }

    public MetricsException(String message, Throwable cause) {
        super(message, cause);
    }
}
