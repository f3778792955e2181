package ai.medqa.io;

import ai.medqa.common.MedQAException;

/**
 * A checkpoint on disk cannot be read as it stands: a safetensors file is truncated or its header is
 * inconsistent, a shard named by the index is missing, a tensor asked for is not there, or a tensor
 * has a dtype or size the caller cannot use. The message names the file and tensor and what was
 * expected.
 */
public class CheckpointException extends MedQAException {
    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
