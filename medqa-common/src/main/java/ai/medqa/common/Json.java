package ai.medqa.common;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;

/** One Jackson configuration for every module: the shared mapper and its indented writer. */
public final class Json {
    /** Jackson's defaults; thread-safe once built, so one instance serves every reader and writer. */
    public static final ObjectMapper MAPPER = new ObjectMapper();
    /** For files people read (adapter configs, conversations, trainer state): indented. */
    public static final ObjectWriter PRETTY = MAPPER.writerWithDefaultPrettyPrinter();

    private Json() {}
}
