package ai.medqa.io;

import java.util.Arrays;
import java.util.Locale;

/**
 * Element types of safetensors tensors that MedQA reads. The constant names are the strings the
 * safetensors header uses ("F32", "BF16", ...), so {@link #parse} is a lookup by name.
 * The 8-bit float and unsigned 16/32/64-bit types of newer safetensors versions are not read.
 */
public enum DType {
    F64(8),
    F32(4),
    F16(2),
    BF16(2),
    I64(8),
    I32(4),
    I16(2),
    I8(1),
    U8(1),
    BOOL(1);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /**
     * The dtype for a safetensors header string such as "BF16".
     *
     * @throws IllegalArgumentException naming the string and the supported dtypes; callers that
     *     know the file and tensor wrap it in a {@link CheckpointException}
     */
    public static DType parse(String safetensorsName) {
        for (DType t : values()) {
            if (t.name().equals(safetensorsName)) {
                return t;
            }
        }
        // Be helpful about "f32" or "bfloat16" style names written by hand, but don't accept them:
        // other readers would reject the file.
        String hint = "";
        for (DType t : values()) {
            if (t.name().equals(safetensorsName.toUpperCase(Locale.ROOT))) {
                hint = " (safetensors dtype names are upper case: " + t.name() + ")";
            }
        }
        throw new IllegalArgumentException(
                "unsupported dtype \"" + safetensorsName + "\"" + hint + "; MedQA reads " + Arrays.toString(values()));
    }
}
