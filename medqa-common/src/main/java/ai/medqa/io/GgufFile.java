package ai.medqa.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * A GGUF file (llama.cpp's format, versions 2 and 3): its metadata and tensor directory read at open,
 * tensor data mapped from the file on demand, as {@link SafetensorsFile} does. Metadata values are
 * Java values: integers as {@code Long} (unsigned 64-bit ones above {@code Long.MAX_VALUE} as negative
 * longs, as Java holds them), floats as {@code Double}, {@code Boolean}, {@code String}, arrays as
 * {@code List}. Every malformed input is a {@link CheckpointException} naming the file and what is
 * wrong (the key, the tensor, the byte).
 */
public final class GgufFile implements AutoCloseable {
    private static final int MAGIC = 0x46554747; // "GGUF" little-endian
    private static final int MAX_DIMS = 4; // GGML_MAX_DIMS
    private static final String[] VALUE_TYPES = {
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64",
        "float64"
    };

    /**
     * One tensor: {@code shape} in ggml's order (the first dimension is the innermost, a row's length),
     * its type and where its data starts in the data section.
     */
    public record Tensor(String name, long[] shape, GgmlType type, long offset) {
        /** Number of values. */
        public long count() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        /** Bytes of its data. */
        public long bytes() {
            return type.bytes(count());
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, Tensor> tensors;
    private final long dataStart;

    private GgufFile(
            Path path,
            FileChannel channel,
            int version,
            Map<String, Object> metadata,
            Map<String, Tensor> tensors,
            long dataStart) {
        this.path = path;
        this.channel = channel;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.dataStart = dataStart;
    }

    /** Whether {@code path} starts with GGUF's magic (for choosing a reader; false when unreadable). */
    public static boolean isGguf(Path path) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            return ch.read(b, 0) == 4 && b.getInt(0) == MAGIC;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    public static GgufFile open(Path path) {
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(path + ": no such file");
        } catch (IOException e) {
            throw new CheckpointException(path + ": cannot open: " + e, e);
        }
        try {
            return read(path, channel);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    private static GgufFile read(Path path, FileChannel channel) {
        Reader r = new Reader(path, channel);
        int magic = r.i32("the magic number");
        if (magic != MAGIC) {
            throw new CheckpointException(path + ": not a GGUF file (it starts with bytes "
                    + String.format("%08x", Integer.reverseBytes(magic)) + ", not \"GGUF\")");
        }
        int version = r.i32("the version");
        if (version != 2 && version != 3) {
            throw new CheckpointException(
                    path + ": GGUF version " + version + " is not supported (versions 2 and 3 are)");
        }
        long tensorCount = r.count("the tensor count");
        long kvCount = r.count("the metadata count");
        Map<String, Object> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = r.string("metadata key " + i);
            int type = r.i32("the type of metadata " + key);
            metadata.put(key, r.value(type, key));
        }
        long alignment = 32;
        Object a = metadata.get("general.alignment");
        if (a != null) {
            if (!(a instanceof Long l) || l <= 0 || Long.bitCount(l) != 1) {
                throw new CheckpointException(path + ": metadata general.alignment must be a power of two, got " + a);
            }
            alignment = l;
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = r.string("the name of tensor " + i);
            int dims = r.i32("the dimension count of tensor " + name);
            if (dims < 1 || dims > MAX_DIMS) {
                throw new CheckpointException(
                        path + ": tensor " + name + " has " + dims + " dimensions (1 to 4 expected)");
            }
            long[] shape = new long[dims];
            for (int d = 0; d < dims; d++) {
                shape[d] = r.count("dimension " + d + " of tensor " + name);
            }
            int typeId = r.i32("the type of tensor " + name);
            GgmlType type;
            try {
                type = GgmlType.of(typeId);
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(path + ": tensor " + name + ": " + e.getMessage());
            }
            long offset = r.count("the data offset of tensor " + name);
            if (offset % alignment != 0) {
                throw new CheckpointException(path + ": tensor " + name + " starts at offset " + offset
                        + ", not a multiple of the alignment " + alignment);
            }
            Tensor t = new Tensor(name, shape, type, offset);
            if (shape[0] % type.blockSize != 0) {
                throw new CheckpointException(path + ": tensor " + name + " (" + type + ") has rows of " + shape[0]
                        + " values, not a whole number of " + type.blockSize + "-value blocks");
            }
            try {
                t.bytes();
            } catch (IllegalArgumentException | ArithmeticException e) {
                throw new CheckpointException(
                        path + ": tensor " + name + " of shape " + Arrays.toString(shape) + ": " + e.getMessage());
            }
            if (tensors.put(name, t) != null) {
                throw new CheckpointException(path + ": tensor " + name + " is listed twice");
            }
        }
        long dataStart = (r.position() + alignment - 1) / alignment * alignment;
        long size = r.size();
        for (Tensor t : tensors.values()) {
            long end = dataStart + t.offset() + t.bytes();
            if (end > size) {
                throw new CheckpointException(path + ": tensor " + t.name() + " (" + t.type() + " "
                        + Arrays.toString(t.shape()) + ") ends at byte " + end + " but the file has " + size
                        + " bytes: the file is truncated");
            }
        }
        return new GgufFile(
                path,
                channel,
                version,
                Collections.unmodifiableMap(metadata),
                Collections.unmodifiableMap(tensors),
                dataStart);
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    /** Every metadata key and value, in file order. */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** The tensors, in file order. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** A string metadata value, or a {@link CheckpointException} naming the key when it is missing or not a string. */
    public String string(String key) {
        return typed(key, String.class, "a string");
    }

    /** An integer metadata value (any integer type). */
    public long integer(String key) {
        return typed(key, Long.class, "an integer");
    }

    /** A float metadata value (float32 or float64; an integer is accepted too). */
    public double number(String key) {
        Object v = metadata.get(key);
        if (v instanceof Long l) {
            return l;
        }
        return typed(key, Double.class, "a number");
    }

    /** An array metadata value. */
    public List<?> array(String key) {
        return typed(key, List.class, "an array");
    }

    private <T> T typed(String key, Class<T> type, String expected) {
        Object v = metadata.get(key);
        if (v == null) {
            throw new CheckpointException(path + ": metadata " + key + " is missing (" + expected + " expected)");
        }
        if (!type.isInstance(v)) {
            throw new CheckpointException(path + ": metadata " + key + " must be " + expected + ", found "
                    + (v instanceof List<?> l
                            ? "an array of " + l.size()
                            : v.getClass().getSimpleName() + " " + v));
        }
        return type.cast(v);
    }

    /** Whether the file has metadata {@code key}. */
    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new CheckpointException(
                    path + ": no tensor named " + name + " (the file has " + tensors.size() + ")");
        }
        return t;
    }

    /** A tensor's bytes, mapped from the file (little-endian). */
    public ByteBuffer raw(String name) {
        Tensor t = tensor(name);
        if (t.bytes() > Integer.MAX_VALUE) {
            throw new CheckpointException(path + ": tensor " + name + " is " + t.bytes() + " bytes, over 2 GiB");
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.offset(), t.bytes())
                    .order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new CheckpointException(path + ": cannot map tensor " + name + ": " + e, e);
        }
    }

    /** A tensor's values as float32, dequantized as ggml does ({@link GgmlType#dequantize}). */
    public float[] floats(String name) {
        Tensor t = tensor(name);
        if (t.count() > Integer.MAX_VALUE - 8) {
            throw new CheckpointException(
                    path + ": tensor " + name + " has " + t.count() + " values, too many for one array");
        }
        float[] out = new float[(int) t.count()];
        ByteBuffer raw = raw(name);
        // In chunks of whole blocks across the cores: a 7B file's non-4-bit tensors were seconds each.
        int blocks = (int) (t.count() / t.type().blockSize);
        int chunk = Math.max(1, Math.min(blocks, (1 << 20) / t.type().blockSize));
        IntStream.range(0, (blocks + chunk - 1) / chunk).parallel().forEach(c -> {
            int first = c * chunk;
            int count = Math.min(chunk, blocks - first);
            t.type()
                    .dequantize(
                            raw.slice((int) ((long) first * t.type().typeSize), count * t.type().typeSize),
                            out,
                            first * t.type().blockSize,
                            count * t.type().blockSize);
        });
        Buffers.release(raw); // its pages leave the process now, not at the next GC (peak RSS)
        return out;
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // read-only: nothing to lose
        }
    }

    /** Little-endian reads from the header, buffered, with errors that say what was being read. */
    private static final class Reader {
        private final Path path;
        private final FileChannel channel;
        private final long size;
        private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        private long bufStart; // file position of buf's byte 0

        Reader(Path path, FileChannel channel) {
            this.path = path;
            this.channel = channel;
            try {
                this.size = channel.size();
            } catch (IOException e) {
                throw new CheckpointException(path + ": cannot read its size: " + e, e);
            }
            buf.limit(0);
        }

        long size() {
            return size;
        }

        long position() {
            return bufStart + buf.position();
        }

        private void need(int n, String what) {
            if (buf.remaining() >= n) {
                return;
            }
            long at = position();
            if (at + n > size) {
                throw new CheckpointException(path + ": the file ends at byte " + size + " while reading " + what
                        + " (at byte " + at + "): it is truncated");
            }
            buf.compact(); // the unread bytes move to the front: buffer index 0 is file position `at`
            bufStart = at;
            try {
                while (buf.position() < n) {
                    if (channel.read(buf, bufStart + buf.position()) < 0) {
                        throw new IOException("end of file");
                    }
                }
            } catch (IOException e) {
                throw new CheckpointException(path + ": cannot read " + what + " at byte " + at + ": " + e, e);
            }
            buf.flip();
        }

        int i32(String what) {
            need(4, what);
            return buf.getInt();
        }

        long i64(String what) {
            need(8, what);
            return buf.getLong();
        }

        /** A count or size: a uint64 that must fit what the file could hold. */
        long count(String what) {
            long v = i64(what);
            if (v < 0 || v > size) {
                throw new CheckpointException(path + ": " + what + " is " + Long.toUnsignedString(v)
                        + ", more than the file could hold (" + size + " bytes)");
            }
            return v;
        }

        String string(String what) {
            long length = count("the length of " + what);
            if (length > Integer.MAX_VALUE - 8 || position() + length > size) {
                throw new CheckpointException(path + ": " + what + " is " + length
                        + " bytes long, past the end of the file " + "(truncated?)");
            }
            byte[] bytes = new byte[(int) length];
            int done = 0;
            while (done < bytes.length) {
                need(1, what);
                int n = Math.min(buf.remaining(), bytes.length - done);
                buf.get(bytes, done, n);
                done += n;
            }
            try {
                return StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(bytes))
                        .toString();
            } catch (CharacterCodingException e) {
                throw new CheckpointException(path + ": " + what + " is not valid UTF-8");
            }
        }

        Object value(int type, String key) {
            String what = "the value of metadata " + key;
            switch (type) {
                case 0 -> {
                    need(1, what);
                    return (long) (buf.get() & 0xFF);
                }
                case 1 -> {
                    need(1, what);
                    return (long) buf.get();
                }
                case 2 -> {
                    need(2, what);
                    return (long) (buf.getShort() & 0xFFFF);
                }
                case 3 -> {
                    need(2, what);
                    return (long) buf.getShort();
                }
                case 4 -> {
                    return i32(what) & 0xFFFFFFFFL;
                }
                case 5 -> {
                    return (long) i32(what);
                }
                case 6 -> {
                    return (double) Float.intBitsToFloat(i32(what));
                }
                case 7 -> {
                    need(1, what);
                    byte b = buf.get();
                    if (b != 0 && b != 1) {
                        throw new CheckpointException(
                                path + ": metadata " + key + " is a bool of value " + b + " (0 or 1)");
                    }
                    return b == 1;
                }
                case 8 -> {
                    return string(what);
                }
                case 9 -> {
                    int itemType = i32("the item type of metadata " + key);
                    if (itemType == 9) {
                        throw new CheckpointException(
                                path + ": metadata " + key + " is an array of arrays (not supported)");
                    }
                    long n = count("the length of metadata " + key);
                    // Each item takes at least this many bytes of the file: a count the rest of the file
                    // cannot hold is refused before anything is allocated for it.
                    int least = switch (itemType) {
                        case 0, 1, 7 -> 1;
                        case 2, 3 -> 2;
                        case 4, 5, 6 -> 4;
                        default -> 8;
                    };
                    if (n > (size - position()) / least) {
                        throw new CheckpointException(path + ": metadata " + key + " claims " + n
                                + " items, more than the " + (size - position())
                                + " bytes left in the file hold: it is truncated or damaged");
                    }
                    List<Object> items = new ArrayList<>((int) Math.min(n, 1 << 20));
                    for (long i = 0; i < n; i++) {
                        items.add(value(itemType, key + "[" + i + "]"));
                    }
                    return Collections.unmodifiableList(items);
                }
                case 10, 11 -> {
                    return i64(what);
                }
                case 12 -> {
                    return Double.longBitsToDouble(i64(what));
                }
                default ->
                    throw new CheckpointException(path + ": metadata " + key + " has unknown value type " + type
                            + " (GGUF's are 0-12: " + String.join(", ", VALUE_TYPES) + ")");
            }
        }
    }
}
