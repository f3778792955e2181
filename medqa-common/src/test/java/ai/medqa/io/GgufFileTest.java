package ai.medqa.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GGUF reader against files written by llama.cpp's own Python package ({@code gguf}, made by
 * {@code tools/make_gguf_golden.py}): every metadata value type, and every tensor type dequantized
 * bit for bit as {@code gguf.quants.dequantize} does; malformed files named line by line.
 */
class GgufFileTest {
    static final Path DIR = Path.of("src/test/resources/gguf");

    @TempDir
    Path tmp;

    @Test
    void metadataOfEveryValueType() {
        try (GgufFile f = GgufFile.open(DIR.resolve("types.gguf"))) {
            assertThat(f.version()).isEqualTo(3);
            assertThat(f.string("general.architecture")).isEqualTo("llama");
            assertThat(f.integer("test.u8")).isEqualTo(200);
            assertThat(f.integer("test.i8")).isEqualTo(-100);
            assertThat(f.integer("test.u16")).isEqualTo(60000);
            assertThat(f.integer("test.i16")).isEqualTo(-30000);
            assertThat(f.integer("test.u32")).isEqualTo(4_000_000_000L);
            assertThat(f.integer("test.i32")).isEqualTo(-2_000_000_000L);
            assertThat(f.number("test.f32")).isEqualTo(1.5);
            assertThat(f.metadata().get("test.bool")).isEqualTo(true);
            assertThat(f.string("test.string")).isEqualTo("héllo ▁world");
            assertThat(f.array("test.array_i32")).isEqualTo(List.of(1L, -2L, 3L));
            assertThat(f.array("test.array_str")).isEqualTo(List.of("a", "bé", ""));
            assertThat(Long.toUnsignedString(f.integer("test.u64"))).isEqualTo("9223372036854775813");
            assertThat(f.integer("test.i64")).isEqualTo(-(1L << 62));
            assertThat(f.number("test.f64")).isEqualTo(0.1);
            assertThatThrownBy(() -> f.string("test.u8"))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("metadata test.u8 must be a string, found Long 200");
            assertThatThrownBy(() -> f.integer("llama.block_count"))
                    .hasMessageContaining("metadata llama.block_count is missing");
        }
    }

    @Test
    void everyTensorTypeDequantizesBitForBitAsGgufPy() {
        try (GgufFile f = GgufFile.open(DIR.resolve("types.gguf"));
                SafetensorsFile golden = SafetensorsFile.open(DIR.resolve("types.safetensors"))) {
            assertThat(f.tensors()).hasSize(9);
            for (GgufFile.Tensor t : f.tensors().values()) {
                assertThat(t.shape()).as(t.name()).containsExactly(256, 2);
                float[] ours = f.floats(t.name());
                float[] theirs = golden.readFloats(t.name());
                int[] a = new int[ours.length];
                int[] b = new int[theirs.length];
                for (int i = 0; i < a.length; i++) {
                    a[i] = Float.floatToRawIntBits(ours[i]);
                    b[i] = Float.floatToRawIntBits(theirs[i]);
                }
                assertThat(a).as(t.name() + " (" + t.type() + ")").isEqualTo(b);
            }
            assertThat(f.tensors().values().stream().map(GgufFile.Tensor::type).toList())
                    .containsExactlyInAnyOrder(GgmlType.values());
        }
    }

    /** Metadata far larger than the reader's 64 KiB buffer (a 32,000-token vocabulary's worth) reads back whole. */
    @Test
    void longMetadataCrossesBufferRefills() throws Exception {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1 << 22).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x46554747).putInt(3).putLong(0).putLong(2);
        byte[] key = "tokenizer.ggml.tokens".getBytes(StandardCharsets.UTF_8);
        b.putLong(key.length).put(key).putInt(9).putInt(8).putLong(32000);
        for (int i = 0; i < 32000; i++) {
            byte[] token = ("\u2581tok" + i + "é".repeat(i % 7)).getBytes(StandardCharsets.UTF_8);
            b.putLong(token.length).put(token);
        }
        byte[] key2 = "after".getBytes(StandardCharsets.UTF_8);
        b.putLong(key2.length).put(key2).putInt(4).putInt(77);
        bytes.write(b.array(), 0, b.position());
        try (GgufFile f = GgufFile.open(copy(bytes.toByteArray()))) {
            List<?> tokens = f.array("tokenizer.ggml.tokens");
            assertThat(tokens).hasSize(32000);
            for (int i = 0; i < 32000; i += 997) {
                assertThat(tokens.get(i)).isEqualTo("\u2581tok" + i + "é".repeat(i % 7));
            }
            assertThat(tokens.get(31999)).isEqualTo("\u2581tok31999" + "é".repeat(31999 % 7));
            assertThat(f.integer("after")).isEqualTo(77);
        }
    }

    Path copy(byte[] bytes) throws Exception {
        Path p = tmp.resolve("bad.gguf");
        Files.write(p, bytes);
        return p;
    }

    /** Where the type field of tensor {@code name}'s directory entry is (2 dimensions). */
    static int typeField(byte[] file, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i + n.length <= file.length; i++) {
            if (Arrays.equals(Arrays.copyOfRange(file, i, i + n.length), n) && file[i - 8] == n.length) {
                return i + n.length + 4 + 16;
            }
        }
        throw new AssertionError(name);
    }

    @Test
    void malformedFilesAreNamed() throws Exception {
        byte[] good = Files.readAllBytes(DIR.resolve("types.gguf"));
        assertThatThrownBy(() -> GgufFile.open(copy(Arrays.copyOf(good, good.length - 100))))
                .hasMessageContaining("tensor t.q6_k (Q6_K [256, 2]) ends at byte")
                .hasMessageContaining("truncated");
        assertThatThrownBy(() -> GgufFile.open(copy(Arrays.copyOf(good, 300))))
                .hasMessageContaining("truncated")
                .hasMessageContaining("while reading");
        byte[] magic = good.clone();
        magic[0] = 'X';
        assertThatThrownBy(() -> GgufFile.open(copy(magic))).hasMessageContaining("not a GGUF file");
        byte[] version = good.clone();
        version[4] = 1;
        assertThatThrownBy(() -> GgufFile.open(copy(version))).hasMessageContaining("GGUF version 1 is not supported");
        byte[] unknown = good.clone();
        unknown[typeField(good, "t.q4_0")] = 99;
        assertThatThrownBy(() -> GgufFile.open(copy(unknown)))
                .hasMessageContaining("tensor t.q4_0: unknown tensor type 99");
        byte[] q3k = good.clone();
        q3k[typeField(good, "t.q4_0")] = 11;
        assertThatThrownBy(() -> GgufFile.open(copy(q3k))).hasMessageContaining("type Q3_K (11) is not supported");
        byte[] rows = good.clone();
        rows[typeField(good, "t.q4_0") - 16] = 48; // a row of 48 values: one and a half Q4_0 blocks
        rows[typeField(good, "t.q4_0") - 15] = 0;
        assertThatThrownBy(() -> GgufFile.open(copy(rows)))
                .hasMessageContaining(
                        "tensor t.q4_0 (Q4_0) has rows of 48 values, not a whole number of 32-value blocks");
        // An array whose count the rest of the file cannot hold is refused before anything is allocated.
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(64).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x46554747)
                .putInt(3)
                .putLong(0)
                .putLong(1)
                .putLong(1)
                .put((byte) 'a')
                .putInt(9)
                .putInt(4)
                .putLong(20);
        assertThatThrownBy(() -> GgufFile.open(copy(b.array())))
                .hasMessageContaining("metadata a claims 20 items, more than the 15 bytes left in the file hold");
        assertThatThrownBy(() -> GgufFile.open(tmp.resolve("none.gguf"))).hasMessageContaining("no such file");
        assertThat(GgufFile.isGguf(DIR.resolve("types.gguf"))).isTrue();
        assertThat(GgufFile.isGguf(DIR.resolve("types.safetensors"))).isFalse();
    }
}
