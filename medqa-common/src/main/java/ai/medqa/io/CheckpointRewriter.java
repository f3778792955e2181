package ai.medqa.io;

import ai.medqa.common.Json;
import ai.medqa.common.Staging;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a Hugging Face model folder derived from another one, tensor by tensor: a transform maps
 * each source tensor to the tensors to write (itself, a quantized form, a merged weight), shards
 * close at about 2 GB as transformers' writers do, {@code config.json} can be edited, and the
 * tokenizer files are copied. Everything is written into a hidden folder next to the target, which
 * is moved into place only when complete, so a crash never leaves a half-written checkpoint. Peak
 * memory is one shard plus one tensor, never the whole model.
 */
public final class CheckpointRewriter {
    private static final Logger log = LoggerFactory.getLogger(CheckpointRewriter.class);
    private static final ObjectMapper JSON = Json.MAPPER;
    static final long SHARD_BYTES = 2_000_000_000L;
    private static final String[] COPIED = {
        "tokenizer.json",
        "tokenizer.model",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "generation_config.json",
        "chat_template.jinja"
    };

    /** Maps one source tensor to the tensors written in its place (in order). */
    @FunctionalInterface
    public interface TensorTransform {
        Map<String, TensorData> apply(String name, Checkpoint source);
    }

    private CheckpointRewriter() {}

    /** The identity transform's value for one tensor: its bytes as stored. */
    public static Map<String, TensorData> copy(String name, Checkpoint source) {
        TensorInfo info = source.info(name);
        ByteBuffer raw = source.raw(name);
        ByteBuffer bytes = ByteBuffer.allocate(raw.remaining()).put(raw).flip();
        return Map.of(name, new TensorData(info.dtype(), info.shape(), bytes));
    }

    /**
     * Writes {@code target} from {@code source}.
     *
     * @param editConfig changes to config.json (the source's, as a JSON object)
     * @throws CheckpointException if {@code target} exists or a file cannot be written
     */
    public static void rewrite(Path source, Path target, TensorTransform transform, Consumer<ObjectNode> editConfig) {
        ObjectNode config;
        try {
            config = (ObjectNode) JSON.readTree(source.resolve("config.json").toFile());
        } catch (IOException | ClassCastException e) {
            throw new CheckpointException(source.resolve("config.json") + ": cannot read it as a JSON object: " + e, e);
        }
        editConfig.accept(config);
        rewrite(
                () -> Checkpoint.open(source),
                config,
                dir -> {
                    for (String f : COPIED) {
                        if (Files.isRegularFile(source.resolve(f))) {
                            Files.copy(source.resolve(f), dir.resolve(f));
                        }
                    }
                },
                target,
                transform);
    }

    /** Writes the files other than the weights and config.json (a tokenizer) into the folder being written. */
    @FunctionalInterface
    public interface OtherFiles {
        void write(Path dir) throws IOException;
    }

    /**
     * Writes {@code target} from a checkpoint of any source (a GGUF file's tensors under the
     * checkpoint's names), with {@code config} as its config.json and {@code others} writing the
     * rest; the checkpoint {@code open} gives is closed when done.
     */
    public static void rewrite(
            Supplier<Checkpoint> open, ObjectNode config, OtherFiles others, Path target, TensorTransform transform) {
        if (Files.exists(target)) {
            throw new CheckpointException("cannot write a checkpoint to " + target + ": it exists");
        }
        Path parent = target.toAbsolutePath().getParent();
        Path tmp;
        try {
            Files.createDirectories(parent);
            tmp = Staging.directory(target);
        } catch (IOException e) {
            throw new CheckpointException("cannot create a folder next to " + target + ": " + e, e);
        }
        long started = System.nanoTime();
        try (Checkpoint c = open.get()) {
            List<String> shards = new ArrayList<>();
            Map<String, String> weightMap = new LinkedHashMap<>();
            Map<String, TensorData> shard = new LinkedHashMap<>();
            long shardBytes = 0;
            long outBytes = 0;
            int done = 0;
            for (String name : c.names()) {
                for (Map.Entry<String, TensorData> e : transform.apply(name, c).entrySet()) {
                    long bytes = e.getValue().data().remaining();
                    if (shardBytes > 0 && shardBytes + bytes > SHARD_BYTES) {
                        shards.add(writeShard(tmp, shards.size(), shard, weightMap));
                        shard = new LinkedHashMap<>();
                        shardBytes = 0;
                    }
                    shard.put(e.getKey(), e.getValue());
                    shardBytes += bytes;
                    outBytes += bytes;
                }
                if (++done % 50 == 0) {
                    log.info(
                            "{}: {}/{} tensors written ({} MB)",
                            target.getFileName(),
                            done,
                            c.names().size(),
                            outBytes >> 20);
                }
            }
            shards.add(writeShard(tmp, shards.size(), shard, weightMap));
            finishShards(tmp, shards, weightMap, outBytes);
            Files.writeString(
                    tmp.resolve("config.json"),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
            others.write(tmp);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            log.info(
                    "wrote {}: {} MB in {} shard(s), {} s",
                    target,
                    outBytes >> 20,
                    shards.size(),
                    (System.nanoTime() - started) / 1_000_000_000);
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw new CheckpointException("cannot write checkpoint " + target + ": " + e, e);
        } catch (RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
    }

    private static String writeShard(
            Path dir, int index, Map<String, TensorData> tensors, Map<String, String> weightMap) {
        String file = "model-" + String.format("%05d", index + 1) + ".safetensors";
        SafetensorsWriter.write(dir.resolve(file), tensors, Map.of("format", "pt"));
        tensors.keySet().forEach(k -> weightMap.put(k, file));
        return file;
    }

    /** One shard is renamed model.safetensors; several get transformers' names and an index. */
    private static void finishShards(Path dir, List<String> shards, Map<String, String> weightMap, long bytes)
            throws IOException {
        if (shards.size() == 1) {
            Files.move(dir.resolve(shards.get(0)), dir.resolve(Checkpoint.SINGLE_FILE));
            return;
        }
        Map<String, String> renamed = new LinkedHashMap<>();
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            Files.move(dir.resolve(shards.get(i)), dir.resolve(name));
            renamed.put(shards.get(i), name);
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", bytes);
        ObjectNode map = index.putObject("weight_map");
        weightMap.forEach((k, v) -> map.put(k, renamed.get(v)));
        Files.writeString(
                dir.resolve(Checkpoint.INDEX_FILE),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsString(index));
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted((a, b) -> b.getNameCount() - a.getNameCount())
                    .forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            log.warn("cannot delete {}: {}", dir, e.toString());
        }
    }
}
