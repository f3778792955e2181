package ai.medqa.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    private static TensorData longs(long... values) {
        ByteBuffer buf = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            buf.putLong(v);
        }
        return new TensorData(DType.I64, new long[] {values.length}, buf.flip());
    }

    private static TensorData bytes(DType dtype, long[] shape, int... values) {
        ByteBuffer buf = ByteBuffer.allocate(values.length);
        for (int v : values) {
            buf.put((byte) v);
        }
        return new TensorData(dtype, shape, buf.flip());
    }

    // ---- the fixtures --------------------------------------------------------------------------

    @Test
    void fixtureHeaderAsDocumented() {
        try (SafetensorsFile f =
                SafetensorsFile.open(TestFiles.fixtures().resolve("mistral-swa/bf16/model.safetensors"))) {
            assertThat(f.metadata()).containsExactly(Map.entry("format", "pt"));
            List<String> names = List.copyOf(f.tensors().keySet());
            assertThat(names.get(0)).isEqualTo("model.embed_tokens.weight");
            assertThat(names.get(1)).isEqualTo("model.layers.0.input_layernorm.weight");
            assertThat(names).contains("lm_head.weight", "model.norm.weight");
            TensorInfo embed = f.info("model.embed_tokens.weight");
            assertThat(embed.dtype()).isEqualTo(DType.BF16);
            assertThat(embed.shape()).containsExactly(256, 64);
            assertThat(embed.numel()).isEqualTo(256 * 64);
            assertThat(embed.byteLength()).isEqualTo(256 * 64 * 2);
            assertThat(embed.dataBegin()).isZero();
            // "tensors are stored in file order": header order is data order
            long end = 0;
            for (TensorInfo t : f.tensors().values()) {
                assertThat(t.dataBegin()).isEqualTo(end);
                end = t.dataEnd();
            }
            assertThat(f.dataBytes()).isEqualTo(end);
        }
    }

    @Test
    void rawIsAReadOnlyLittleEndianMapping() {
        try (SafetensorsFile f =
                SafetensorsFile.open(TestFiles.fixtures().resolve("mistral-swa/f32/model.safetensors"))) {
            ByteBuffer raw = f.raw("model.norm.weight");
            assertThat(raw.isDirect()).isTrue();
            assertThat(raw.isReadOnly()).isTrue();
            assertThat(raw.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
            assertThat(raw.remaining()).isEqualTo(64 * 4);
            assertThat(raw.getFloat(0)).isEqualTo(f.readFloats("model.norm.weight")[0]);
            assertThat(f.read("model.norm.weight", DType.F32)).isEqualTo(raw); // same dtype: the mapping itself
        }
    }

    // ---- writer round trip ---------------------------------------------------------------------

    @Test
    void writerRoundTripsEveryDtypeShapeAndMetadata() throws IOException {
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        tensors.put(
                "w.f32", TensorData.ofFloats(DType.F32, new long[] {2, 3}, new float[] {1, -2, 3.5f, 0, -0f, 1e-30f}));
        tensors.put("w.f16", TensorData.ofFloats(DType.F16, new long[] {3}, new float[] {1, -2, 65504}));
        tensors.put("w.bf16", TensorData.ofFloats(DType.BF16, new long[] {1, 2}, new float[] {0.5f, 3e38f}));
        tensors.put("scalar", TensorData.ofFloats(DType.F32, new long[] {}, new float[] {7}));
        tensors.put("empty", TensorData.ofFloats(DType.F32, new long[] {0, 4}, new float[] {}));
        tensors.put("ids", longs(-1, Long.MAX_VALUE));
        tensors.put("mask", bytes(DType.BOOL, new long[] {3}, 1, 0, 1));
        tensors.put("packed", bytes(DType.U8, new long[] {2}, 0xF0, 0x0F));
        tensors.put("q", bytes(DType.I8, new long[] {1}, -128));
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));

        byte[] bytes = Files.readAllBytes(file);
        long headerLength =
                ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(headerLength % 8).as("header padded to 8 bytes").isZero();
        assertThat(new String(bytes, 8, 16)).startsWith("{\"__metadata__\"");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).as("no temporary file left behind").containsExactly(file);
        }

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.metadata()).containsExactly(Map.entry("format", "pt"));
            assertThat(f.tensors().keySet()).containsExactlyElementsOf(tensors.keySet());
            for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
                TensorInfo info = f.info(e.getKey());
                assertThat(info.dtype()).isEqualTo(e.getValue().dtype());
                assertThat(info.shape()).isEqualTo(e.getValue().shape());
                assertThat(f.raw(e.getKey())).isEqualTo(e.getValue().data());
            }
            assertThat(f.readFloats("w.f32")).containsExactly(1, -2, 3.5f, 0, -0f, 1e-30f);
            assertThat(f.readFloats("w.f16")).containsExactly(1, -2, 65504);
            assertThat(f.readFloats("w.bf16")).containsExactly(0.5f, HalfFloat.bf16ToF32(HalfFloat.f32ToBf16(3e38f)));
            assertThat(f.readFloats("scalar")).containsExactly(7);
            assertThat(f.info("scalar").numel()).isEqualTo(1);
            assertThat(f.readFloats("empty")).isEmpty();
            assertThat(f.raw("ids").getLong(8)).isEqualTo(Long.MAX_VALUE);
            // conversions
            assertThat(f.read("w.f16", DType.F32).asFloatBuffer().get(2)).isEqualTo(65504f);
            ByteBuffer f16 = f.read("w.f32", DType.F16);
            assertThat(f16.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
            assertThat(f16.remaining()).isEqualTo(12);
            assertThat(f16.getShort(0)).isEqualTo((short) 0x3C00);
            assertThat(f16.getShort(8)).isEqualTo((short) 0x8000); // -0 stays -0
            assertThat(f16.getShort(10)).isEqualTo((short) 0); // 1e-30 underflows to 0
            assertThat(f.read("w.bf16", DType.F16).getShort(2)).isEqualTo((short) 0x7C00); // 3e38 overflows to inf
        }

        // replacing an existing file works and is atomic too
        SafetensorsWriter.write(file, Map.of("x", longs(5)), Map.of());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.tensors().keySet()).containsExactly("x");
            assertThat(f.metadata()).isEmpty();
        }
    }

    @Test
    void readRejectsWrongDtypes() throws IOException {
        Path file = dir.resolve("m.safetensors");
        SafetensorsWriter.write(file, Map.of("ids", longs(1, 2)), Map.of());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThatThrownBy(() -> f.readFloats("ids"))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining(file.toString())
                    .hasMessageContaining("tensor ids has dtype I64")
                    .hasMessageContaining("F32, F16 and BF16");
            assertThatThrownBy(() -> f.read("ids", DType.BF16))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("F32 or F16, not BF16");
            assertThatThrownBy(() -> f.info("nope"))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining(file + ": no tensor named nope");
        }
    }

    @Test
    void buffersOutliveCloseButReadsAfterCloseFailCleanly() throws IOException {
        Path file = dir.resolve("m.safetensors");
        SafetensorsWriter.write(file, Map.of("x", longs(42)), Map.of());
        SafetensorsFile f = SafetensorsFile.open(file);
        ByteBuffer raw = f.raw("x");
        f.close();
        assertThat(raw.getLong(0)).isEqualTo(42); // the mapping outlives the channel
        assertThatThrownBy(() -> f.raw("x"))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("tensor x")
                .hasMessageContaining("closed");
    }

    // ---- files over 2 GiB ----------------------------------------------------------------------

    @Test
    void fileOver2GiBIsMappedPerTensor() throws IOException {
        // A sparse file: a 2 GiB + 8 byte U8 "pad" tensor (never written, so it costs no disk) and a
        // small F32 tensor after it, at an offset past what an int can address.
        long padBytes = (1L << 31) + 8;
        String header = "{\"pad\":{\"dtype\":\"U8\",\"shape\":[" + padBytes + "],\"data_offsets\":[0," + padBytes
                + "]},\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[" + padBytes + "," + (padBytes + 16)
                + "]}}";
        Path file = TestFiles.writeRaw(dir.resolve("big.safetensors"), header, 0);
        long dataStart = 8 + header.length();
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(dataStart + padBytes + 16);
            ByteBuffer x = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            x.putFloat(1.5f).putFloat(-2f).putFloat(3f).putFloat(0.25f).flip();
            raf.getChannel().write(x, dataStart + padBytes);
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.info("x").dataBegin()).isGreaterThan(Integer.MAX_VALUE);
            assertThat(f.readFloats("x")).containsExactly(1.5f, -2f, 3f, 0.25f);
            assertThat(f.read("x", DType.F16).getShort(0)).isEqualTo(HalfFloat.f32ToF16(1.5f));
            assertThatThrownBy(() -> f.raw("pad"))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining(file.toString())
                    .hasMessageContaining("tensor pad is " + padBytes + " bytes")
                    .hasMessageContaining("over 2 GiB");
        } finally {
            Files.delete(file);
        }
    }

    // ---- bad files: each message names the file, the tensor and what was expected -------------

    private Path raw(String header, int dataBytes) throws IOException {
        return TestFiles.writeRaw(dir.resolve("bad.safetensors"), header, dataBytes);
    }

    private static void assertOpenFails(Path file, String... fragments) {
        var thrown = assertThatThrownBy(() -> SafetensorsFile.open(file).close())
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(file.toString());
        for (String s : fragments) {
            thrown.hasMessageContaining(s);
        }
    }

    @Test
    void missingFile() {
        assertOpenFails(dir.resolve("none.safetensors"), "no such file");
    }

    @Test
    void fileShorterThanTheLengthField() throws IOException {
        Path file = Files.write(dir.resolve("short.safetensors"), new byte[] {1, 2, 3, 4, 5});
        assertOpenFails(file, "file is 5 bytes", "too short for the 8-byte header length");
        assertOpenFails(Files.write(dir.resolve("empty.safetensors"), new byte[0]), "file is 0 bytes");
    }

    @Test
    void hugeHeaderLength() throws IOException {
        Path file = TestFiles.writeRaw(dir.resolve("huge.safetensors"), 1L << 40, "{}".getBytes());
        assertOpenFails(file, "header length field says 1099511627776 bytes", "limit of 100000000 bytes");
        Path negative = TestFiles.writeRaw(dir.resolve("neg.safetensors"), -1L, "{}".getBytes());
        assertOpenFails(negative, "says 18446744073709551615 bytes");
    }

    @Test
    void headerLengthPastTheEndOfTheFile() throws IOException {
        Path file = TestFiles.writeRaw(dir.resolve("cut.safetensors"), 1000, "{\"a\":".getBytes());
        assertOpenFails(file, "header length field says 1000 bytes but the file has only 5 bytes after it");
    }

    @Test
    void headerNotJsonOrNotAnObject() throws IOException {
        assertOpenFails(raw("{\"a\": {\"dtype\"", 0), "header is not valid JSON");
        assertOpenFails(raw("{} trailing", 0), "header is not valid JSON");
        assertOpenFails(raw("[1, 2]", 0), "header must be a JSON object", "found ARRAY");
        assertOpenFails(raw("", 0), "header must be a JSON object", "found nothing");
        assertOpenFails(raw("{\"a\": 3}", 0), "tensor a: header entry must be an object");
    }

    @Test
    void duplicateTensorName() throws IOException {
        String entry = "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}";
        assertOpenFails(raw("{\"a\":" + entry + ",\"a\":" + entry + "}", 1), "not valid JSON", "Duplicate field 'a'");
    }

    @Test
    void missingFields() throws IOException {
        assertOpenFails(
                raw("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "tensor w: header entry has no \"dtype\"");
        assertOpenFails(
                raw("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4),
                "tensor w: header entry has no \"shape\"");
        assertOpenFails(
                raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "tensor w: header entry has no \"data_offsets\"");
        assertOpenFails(
                raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4),
                "tensor w: \"data_offsets\" must be an array of 2 integers, found [4]");
        assertOpenFails(
                raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4),
                "tensor w: \"shape\" must be an array of integers");
    }

    @Test
    void unknownDtype() throws IOException {
        assertOpenFails(
                raw("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                "tensor w: unsupported dtype \"F8_E4M3\"",
                "BF16");
        assertOpenFails(
                raw("{\"w\":{\"dtype\":\"bf16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2),
                "tensor w: unsupported dtype \"bf16\"",
                "upper case: BF16");
    }

    @Test
    void negativeDimension() throws IOException {
        assertOpenFails(
                raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,0]}}", 0),
                "tensor w: shape [2, -3] has a negative dimension -3");
    }

    @Test
    void shapeDisagreesWithByteLength() throws IOException {
        assertOpenFails(
                raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20),
                "tensor w: shape [2, 3] x F32 needs 24 bytes, data_offsets [0, 20] give 20");
        assertOpenFails(
                raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4),
                "tensor w: shape [4294967296, 4294967296] x F32 needs more than 2^63 bytes");
        assertOpenFails(
                raw("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4),
                "tensor w: data_offsets [4, 0] must satisfy 0 <= begin <= end");
    }

    @Test
    void offsetsPastTheEndOfTheFile() throws IOException {
        assertOpenFails(
                raw(
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                        12),
                "header says tensor b ends at byte 24 of the data section but the file's data section has only 12 bytes");
    }

    @Test
    void truncatedFile() throws IOException {
        Path file = dir.resolve("model.safetensors");
        Map<String, TensorData> tensors = new LinkedHashMap<>(); // a first, b last in the file
        tensors.put("a", TensorData.ofFloats(DType.BF16, new long[] {8}, new float[8]));
        tensors.put("b", TensorData.ofFloats(DType.F32, new long[] {2, 5}, new float[10]));
        SafetensorsWriter.write(file, tensors, Map.of());
        long size = Files.size(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size - 7); // a download cut short
        }
        assertOpenFails(
                file,
                "header says tensor b ends at byte 56 of the data section",
                "the file's data section has only 49 bytes",
                "truncated");
    }

    @Test
    void overlappingTensors() throws IOException {
        assertOpenFails(
                raw(
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                        16),
                "tensors a at [0, 16) and b at [8, 16) overlap");
    }

    @Test
    void holesAndTrailingBytes() throws IOException {
        assertOpenFails(
                raw(
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                        12),
                "bytes [4, 8) of the data section, after tensor a and before tensor b, belong to no tensor");
        assertOpenFails(
                raw("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                "bytes [0, 4) of the data section, before tensor b");
        assertOpenFails(
                raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 10),
                "the data section has 10 bytes but the tensors end at byte 4");
    }

    @Test
    void badMetadata() throws IOException {
        assertOpenFails(
                raw("{\"__metadata__\":{\"format\":1}}", 0), "\"__metadata__\" value for \"format\" must be a string");
        assertOpenFails(raw("{\"__metadata__\":[]}", 0), "\"__metadata__\" must be an object");
    }

    @Test
    void validHandWrittenHeaderWithEmptyAndUnpaddedParts() throws IOException {
        // Not every writer pads or orders like HF; header order and data order may differ.
        Path file = raw(
                "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
                        + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[2,2]},"
                        + "\"a\":{\"dtype\":\"I16\",\"shape\":[],\"data_offsets\":[0,2]}}",
                4);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.tensors().keySet()).containsExactly("b", "e", "a");
            assertThat(f.raw("a").remaining()).isEqualTo(2);
            assertThat(f.readFloats("e")).isEmpty();
        }
    }
}
