package ai.medqa.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One safetensors file, memory-mapped.
 *
 * <p>The format: an 8-byte little-endian header length N, N bytes of JSON
 * {@code {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}}},
 * then the data section, to which the offsets are relative. Opening reads and validates only the
 * header; tensor bytes are mapped on demand, one region per tensor, so a file of any size works
 * while a single tensor is limited to what one ByteBuffer can hold (2 GiB - 1 bytes).
 *
 * <p>The header is checked as strictly as the reference Rust implementation does: the offsets must
 * lie inside the file, tensors must not overlap and must cover the data section without holes, and
 * each tensor's byte length must equal its shape times its dtype size. Every error names the file
 * and the tensor.
 *
 * <p>Thread-safe: reads may run concurrently. Buffers handed out stay valid after {@link #close()}
 * (the mapping lives until the buffer is garbage collected), so a late read cannot crash the JVM.
 */
public final class SafetensorsFile implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SafetensorsFile.class);

    /** Largest header accepted, as in the Rust safetensors crate; a 7B model shard's header is ~30 KB. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION) // a repeated tensor name is an error
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static final String METADATA_KEY = "__metadata__";

    private final Path path;
    private final FileChannel channel;
    private final long dataStart; // absolute file offset of the data section: 8 + N
    private final Map<String, TensorInfo> tensors; // header order, unmodifiable
    private final Map<String, String> metadata;
    private volatile boolean closed;

    private SafetensorsFile(
            Path path,
            FileChannel channel,
            long dataStart,
            Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /**
     * Opens a file and validates its header.
     *
     * @throws CheckpointException if the file is missing, unreadable, truncated or its header is
     *     inconsistent
     */
    public static SafetensorsFile open(Path path) {
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(path + ": no such file");
        } catch (IOException e) {
            throw new CheckpointException(path + ": cannot open: " + e, e);
        }
        try {
            SafetensorsFile file = readHeader(path, channel);
            log.debug("{}: {} tensors, {} bytes of data", path, file.tensors.size(), file.dataBytes());
            return file;
        } catch (RuntimeException | IOException e) {
            try {
                channel.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof CheckpointException ce) {
                throw ce;
            }
            throw new CheckpointException(path + ": cannot read header: " + e, e);
        }
    }

    private static SafetensorsFile readHeader(Path path, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        if (fileSize < 8) {
            throw new CheckpointException(path + ": file is " + fileSize
                    + " bytes, too short for the 8-byte header length of a safetensors file (truncated?)");
        }
        ByteBuffer lengthBytes = readFully(channel, 0, 8);
        long headerLength = lengthBytes.order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        // A negative long here is an unsigned value >= 2^63: also too large.
        if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
            throw new CheckpointException(path + ": header length field says "
                    + Long.toUnsignedString(headerLength) + " bytes, more than the limit of "
                    + MAX_HEADER_BYTES + " bytes; not a safetensors file, or a corrupt one");
        }
        if (headerLength > fileSize - 8) {
            throw new CheckpointException(path + ": header length field says " + headerLength
                    + " bytes but the file has only " + (fileSize - 8)
                    + " bytes after it (truncated, or not a safetensors file)");
        }
        byte[] headerBytes = new byte[(int) headerLength];
        readFully(channel, 8, (int) headerLength).get(headerBytes);
        JsonNode root;
        try {
            root = JSON.readTree(headerBytes);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(path + ": header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(path + ": header must be a JSON object"
                    + " {tensor name: {dtype, shape, data_offsets}}, found "
                    + (root == null || root.isMissingNode() ? "nothing" : root.getNodeType()));
        }

        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (e.getKey().equals(METADATA_KEY)) {
                readMetadata(path, e.getValue(), metadata);
            } else {
                tensors.put(e.getKey(), readEntry(path, e.getKey(), e.getValue()));
            }
        }
        long dataStart = 8 + headerLength;
        checkLayout(path, tensors.values(), fileSize - dataStart);
        return new SafetensorsFile(
                path, channel, dataStart, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static void readMetadata(Path path, JsonNode node, Map<String, String> out) {
        if (!node.isObject()) {
            throw new CheckpointException(path + ": \"" + METADATA_KEY + "\" must be an object of string values, found "
                    + node.getNodeType());
        }
        for (Map.Entry<String, JsonNode> m : node.properties()) {
            if (!m.getValue().isTextual()) {
                throw new CheckpointException(path + ": \"" + METADATA_KEY + "\" value for \"" + m.getKey()
                        + "\" must be a string, found " + m.getValue().getNodeType());
            }
            out.put(m.getKey(), m.getValue().textValue());
        }
    }

    private static TensorInfo readEntry(Path path, String name, JsonNode node) {
        String where = path + ": tensor " + name + ": ";
        if (!node.isObject()) {
            throw new CheckpointException(where + "header entry must be an object"
                    + " {dtype, shape, data_offsets}, found " + node.getNodeType());
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new CheckpointException(where + "header entry has no \"dtype\" string");
        }
        DType dtype;
        try {
            dtype = DType.parse(dtypeNode.textValue());
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(where + e.getMessage());
        }
        long[] shape = readLongs(where, node, "shape", -1);
        for (long d : shape) {
            if (d < 0) {
                throw new CheckpointException(
                        where + "shape " + Arrays.toString(shape) + " has a negative dimension " + d);
            }
        }
        long[] offsets = readLongs(where, node, "data_offsets", 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin < 0 || end < begin) {
            throw new CheckpointException(
                    where + "data_offsets " + Arrays.toString(offsets) + " must satisfy 0 <= begin <= end");
        }
        long needed;
        try {
            long numel = 1;
            for (long d : shape) {
                numel = Math.multiplyExact(numel, d);
            }
            needed = Math.multiplyExact(numel, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new CheckpointException(
                    where + "shape " + Arrays.toString(shape) + " x " + dtype + " needs more than 2^63 bytes");
        }
        if (needed != end - begin) {
            throw new CheckpointException(where + "shape " + Arrays.toString(shape) + " x " + dtype
                    + " needs " + needed + " bytes, data_offsets " + Arrays.toString(offsets)
                    + " give " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** An array of integers that fit in a long; {@code length} -1 means any length. */
    private static long[] readLongs(String where, JsonNode entry, String field, int length) {
        JsonNode node = entry.get(field);
        String expected = length < 0 ? "an array of integers" : "an array of " + length + " integers";
        if (node == null) {
            throw new CheckpointException(where + "header entry has no \"" + field + "\" (" + expected + ")");
        }
        if (!node.isArray() || (length >= 0 && node.size() != length)) {
            throw new CheckpointException(where + "\"" + field + "\" must be " + expected + ", found " + node);
        }
        long[] values = new long[node.size()];
        for (int i = 0; i < values.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                throw new CheckpointException(
                        where + "\"" + field + "\" must be " + expected + " that fit in 64 bits, found " + node);
            }
            values[i] = v.longValue();
        }
        return values;
    }

    /**
     * Offsets inside the data section, no overlaps, no holes: the rules of the format, which the
     * reference implementation enforces, so a file that passes here also loads in Python.
     */
    private static void checkLayout(Path path, Iterable<TensorInfo> infos, long dataBytes) {
        List<TensorInfo> sorted = new ArrayList<>();
        for (TensorInfo t : infos) {
            if (t.dataEnd() > dataBytes) {
                throw new CheckpointException(path + ": header says tensor " + t.name() + " ends at byte "
                        + t.dataEnd() + " of the data section but the file's data section has only "
                        + dataBytes + " bytes (truncated file?)");
            }
            sorted.add(t);
        }
        sorted.sort(Comparator.comparingLong(TensorInfo::dataBegin).thenComparingLong(TensorInfo::dataEnd));
        long covered = 0;
        TensorInfo previous = null;
        for (TensorInfo t : sorted) {
            if (t.dataBegin() < covered) {
                throw new CheckpointException(path + ": tensors " + previous.name() + " at ["
                        + previous.dataBegin() + ", " + previous.dataEnd() + ") and " + t.name() + " at ["
                        + t.dataBegin() + ", " + t.dataEnd() + ") overlap in the data section");
            }
            if (t.dataBegin() > covered) {
                throw new CheckpointException(path + ": bytes [" + covered + ", " + t.dataBegin()
                        + ") of the data section, "
                        + (previous == null ? "" : "after tensor " + previous.name() + " and ")
                        + "before tensor " + t.name() + ", belong to no tensor; the safetensors format forbids holes");
            }
            covered = t.dataEnd();
            previous = t;
        }
        if (covered != dataBytes) {
            throw new CheckpointException(path + ": the data section has " + dataBytes
                    + " bytes but the tensors end at byte " + covered + "; the last "
                    + (dataBytes - covered) + " bytes belong to no tensor");
        }
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        while (buf.hasRemaining()) {
            if (channel.read(buf, position + buf.position()) < 0) {
                throw new IOException("unexpected end of file at byte " + (position + buf.position()));
            }
        }
        return buf.flip();
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** Every tensor in the file, in header order (by name). */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The header's {@code __metadata__} entries (e.g. {@code format=pt}); empty if it has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Size of the data section in bytes. */
    public long dataBytes() {
        long total = 0;
        for (TensorInfo t : tensors.values()) {
            total += t.byteLength();
        }
        return total;
    }

    /** @throws CheckpointException naming the file if it has no such tensor */
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new CheckpointException(
                    path + ": no tensor named " + name + " (the file has " + tensors.size() + " tensors)");
        }
        return t;
    }

    /**
     * The tensor's bytes as stored: a read-only, little-endian, memory-mapped buffer (no copy).
     *
     * @throws CheckpointException if the tensor is missing or larger than 2 GiB - 1 bytes
     */
    public ByteBuffer raw(String name) {
        TensorInfo t = info(name);
        if (closed) {
            throw new CheckpointException(path + ": cannot read tensor " + name + ": the file is closed");
        }
        long length = t.byteLength();
        if (length > Integer.MAX_VALUE) {
            throw new CheckpointException(path + ": tensor " + name + " is " + length
                    + " bytes; a single tensor over 2 GiB cannot be held in one Java ByteBuffer");
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.dataBegin(), length)
                    .order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new CheckpointException(path + ": cannot map tensor " + name + ": " + e, e);
        }
    }

    /**
     * The tensor's values as float32, row-major. F32, F16 and BF16 tensors only; the widening is exact.
     *
     * @throws CheckpointException if the tensor is missing or of another dtype
     */
    public float[] readFloats(String name) {
        TensorInfo t = info(name);
        requireFloatSource(t, "readFloats");
        ByteBuffer src = raw(name);
        float[] out = new float[(int) t.numel()];
        try {
            readFloats(t, src, out);
        } finally {
            Buffers.release(src); // mapped pages of a copied tensor need not stay resident
        }
        return out;
    }

    private static void readFloats(TensorInfo t, ByteBuffer src, float[] out) {
        switch (t.dtype()) {
            case F32 -> src.asFloatBuffer().get(out);
            case F16, BF16 -> {
                // In chunks across the cores (absolute reads of one buffer are safe to share): converting
                // a 7B checkpoint's bfloat16 was a third of loading it with --quantize int4.
                ShortBuffer s = src.asShortBuffer();
                boolean f16 = t.dtype() == DType.F16;
                int chunk = 1 << 18;
                IntStream.range(0, (out.length + chunk - 1) / chunk).parallel().forEach(c -> {
                    int end = Math.min(out.length, (c + 1) * chunk);
                    for (int i = c * chunk; i < end; i++) {
                        out[i] = f16 ? HalfFloat.f16ToF32(s.get(i)) : HalfFloat.bf16ToF32(s.get(i));
                    }
                });
            }
            default -> throw new AssertionError(t.dtype());
        }
    }

    /**
     * The tensor converted to {@code target} (F32 or F16), as little-endian bytes ready for a native
     * tensor. If the tensor already has that dtype this is the read-only mapped buffer, no copy;
     * otherwise a new direct buffer. BF16 and F16 to F32 are exact; F32 and BF16 to F16 round to
     * nearest even (overflow to infinity, small values to F16 subnormals or zero), as PyTorch does.
     *
     * @throws IllegalArgumentException if {@code target} is not F32 or F16
     * @throws CheckpointException if the tensor is missing, not a float tensor, or the result would
     *     exceed 2 GiB
     */
    public ByteBuffer read(String name, DType target) {
        if (target != DType.F32 && target != DType.F16) {
            throw new IllegalArgumentException("read converts tensors to F32 or F16, not " + target);
        }
        TensorInfo t = info(name);
        if (t.dtype() == target) {
            return raw(name);
        }
        requireFloatSource(t, "read(" + target + ")");
        long outBytes = t.numel() * target.byteSize();
        if (outBytes > Integer.MAX_VALUE) {
            throw new CheckpointException(path + ": tensor " + name + " as " + target + " would be " + outBytes
                    + " bytes; a single tensor over 2 GiB cannot be held in one Java ByteBuffer");
        }
        ByteBuffer mapped = raw(name);
        ShortBuffer src16 = t.dtype() == DType.F32 ? null : mapped.asShortBuffer();
        FloatBuffer src32 = t.dtype() == DType.F32 ? mapped.asFloatBuffer() : null;
        ByteBuffer out = ByteBuffer.allocateDirect((int) outBytes).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) t.numel();
        if (target == DType.F32) {
            FloatBuffer dst = out.asFloatBuffer();
            boolean bf16 = t.dtype() == DType.BF16;
            for (int i = 0; i < n; i++) {
                short h = src16.get(i);
                dst.put(i, bf16 ? HalfFloat.bf16ToF32(h) : HalfFloat.f16ToF32(h));
            }
        } else {
            ShortBuffer dst = out.asShortBuffer();
            for (int i = 0; i < n; i++) {
                // BF16 -> F32 is exact, so BF16 -> F16 through F32 rounds only once.
                float v = src32 != null ? src32.get(i) : HalfFloat.bf16ToF32(src16.get(i));
                dst.put(i, HalfFloat.f32ToF16(v));
            }
        }
        src16 = null;
        src32 = null;
        Buffers.release(mapped); // converted: the mapped pages need not stay resident
        return out;
    }

    private void requireFloatSource(TensorInfo t, String operation) {
        if (t.dtype() != DType.F32 && t.dtype() != DType.F16 && t.dtype() != DType.BF16) {
            throw new CheckpointException(path + ": tensor " + t.name() + " has dtype " + t.dtype() + "; " + operation
                    + " converts only F32, F16 and BF16 tensors (use raw for others)");
        }
    }

    /** Closes the file. Buffers already returned stay readable until they are garbage collected. */
    @Override
    public void close() {
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            log.warn("{}: error closing: {}", path, e.toString());
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }
}
