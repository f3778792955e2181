package ai.medqa.metrics.bertscore;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The tensors of one {@code .safetensors} file, converted to float32 one at a time on request so a
 * large encoder never sits in the Java heap whole. A minimal reader (medqa-core has the full one, but
 * this module must not depend on it): 8-byte little-endian header length, a JSON header
 * {@code name -> {dtype, shape, data_offsets}}, then the data. F32, F16 and BF16 are read; BF16 is
 * widened here in Java because DJL must never see {@code BFLOAT16}.
 */
final class SafetensorsWeights {
    private record Entry(String dtype, long[] shape, long begin, long end) {}

    private final Path file;
    private final ByteBuffer data;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    SafetensorsWeights(Path file) throws IOException {
        this.file = file;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            long headerLen = len.flip().getLong();
            if (headerLen <= 0 || headerLen > ch.size() - 8) {
                throw new IOException(file + ": not a safetensors file (header length " + headerLen + ")");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            ch.read(header, 8);
            JsonNode json = new ObjectMapper().readTree(new String(header.array(), StandardCharsets.UTF_8));
            for (Map.Entry<String, JsonNode> e : json.properties()) {
                if (e.getKey().equals("__metadata__")) {
                    continue;
                }
                JsonNode v = e.getValue();
                long[] shape = new long[v.get("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = v.get("shape").get(i).asLong();
                }
                entries.put(e.getKey(), new Entry(v.get("dtype").asText(), shape,
                        v.get("data_offsets").get(0).asLong(), v.get("data_offsets").get(1).asLong()));
            }
            long start = 8 + headerLen;
            // Mapped, not read: only the tensors asked for are touched.
            data = ch.map(FileChannel.MapMode.READ_ONLY, start, ch.size() - start).order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    Set<String> names() {
        return entries.keySet();
    }

    FloatTensor read(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException(file + ": no tensor " + name);
        }
        long n = 1;
        for (long d : e.shape()) {
            n *= d;
        }
        int width = switch (e.dtype()) {
            case "F32" -> 4;
            case "F16", "BF16" -> 2;
            default -> throw new IllegalArgumentException(file + ": tensor " + name + " has dtype " + e.dtype()
                    + "; an encoder's weights must be F32, F16 or BF16");
        };
        if (e.end() - e.begin() != n * width || e.end() > data.capacity()) {
            throw new IllegalArgumentException(file + ": tensor " + name + " spans bytes [" + e.begin() + ", "
                    + e.end() + ") which does not fit its shape and dtype");
        }
        ByteBuffer bytes = data.slice((int) e.begin(), (int) (e.end() - e.begin())).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[(int) n];
        switch (e.dtype()) {
            case "F32" -> bytes.asFloatBuffer().get(out);
            case "BF16" -> {
                ShortBuffer s = bytes.asShortBuffer();
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.intBitsToFloat((s.get(i) & 0xffff) << 16);
                }
            }
            default -> {
                ShortBuffer s = bytes.asShortBuffer();
                for (int i = 0; i < out.length; i++) {
                    out[i] = halfToFloat(s.get(i));
                }
            }
        }
        return new FloatTensor(name, e.shape(), FloatBuffer.wrap(out));
    }

    /** IEEE 754 binary16 to float (Java 17 has no Float.float16ToFloat). */
    static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            // Subnormal (or zero): mant * 2^-24.
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }
}
