package ai.medqa.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The weights of a Hugging Face checkpoint folder: one {@code model.safetensors}, or shards listed
 * by {@code model.safetensors.index.json} (its {@code weight_map} maps each tensor name to a shard
 * file), seen as one map from tensor name to tensor.
 *
 * <p>Opening validates every file's header, that every shard the index names exists, and that each
 * shard holds the tensors the index puts there; tensor bytes are only mapped when read.
 */
public final class Checkpoint implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Checkpoint.class);

    public static final String INDEX_FILE = "model.safetensors.index.json";
    public static final String SINGLE_FILE = "model.safetensors";

    private final Path directory;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> fileOf; // tensor name -> file holding it, in index/file order
    private final Path index; // null for a single-file checkpoint
    private final TensorSource source; // null: safetensors files

    private Checkpoint(Path directory, Path index, List<SafetensorsFile> files, Map<String, SafetensorsFile> fileOf) {
        this.directory = directory;
        this.index = index;
        this.files = files;
        this.fileOf = fileOf;
        this.source = null;
    }

    private Checkpoint(Path directory, TensorSource source) {
        this.directory = directory;
        this.index = null;
        this.files = List.of();
        this.fileOf = Map.of();
        this.source = source;
    }

    /** Where the tensors come from when not from safetensors files (a GGUF file), else null. */
    public TensorSource source() {
        return source;
    }

    /** A checkpoint whose tensors come from {@code source} (closed with the checkpoint). */
    public static Checkpoint of(Path directory, TensorSource source) {
        log.info("checkpoint {}: {} tensors from {}", directory, source.names().size(), source.describe());
        return new Checkpoint(directory, source);
    }

    /**
     * Opens a checkpoint folder: {@value #INDEX_FILE} if present, else {@value #SINGLE_FILE}, else the
     * folder's only {@code *.safetensors} file. A path to a single {@code .safetensors} file is
     * accepted too.
     *
     * @throws CheckpointException naming the folder, index, shard or tensor that is wrong
     */
    public static Checkpoint open(Path path) {
        if (Files.isRegularFile(path)) {
            return single(path.toAbsolutePath().getParent(), path);
        }
        if (!Files.isDirectory(path)) {
            throw new CheckpointException("checkpoint folder " + path + " does not exist");
        }
        Path index = path.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return indexed(path, index);
        }
        Path model = path.resolve(SINGLE_FILE);
        if (Files.isRegularFile(model)) {
            return single(path, model);
        }
        List<Path> candidates = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(path, "*.safetensors")) {
            ds.forEach(candidates::add);
        } catch (IOException e) {
            throw new CheckpointException("cannot list checkpoint folder " + path + ": " + e, e);
        }
        Collections.sort(candidates);
        if (candidates.size() == 1) {
            return single(path, candidates.get(0));
        }
        if (candidates.isEmpty()) {
            throw new CheckpointException("checkpoint folder " + path + " has no " + INDEX_FILE + ", no " + SINGLE_FILE
                    + " and no other *.safetensors file");
        }
        throw new CheckpointException("checkpoint folder " + path + " has several *.safetensors files "
                + fileNames(candidates) + " but no " + INDEX_FILE + " to say which tensor is in which");
    }

    private static Checkpoint single(Path directory, Path file) {
        SafetensorsFile f = SafetensorsFile.open(file);
        Map<String, SafetensorsFile> fileOf = new LinkedHashMap<>();
        for (String name : f.tensors().keySet()) {
            fileOf.put(name, f);
        }
        return logged(new Checkpoint(directory, null, List.of(f), Collections.unmodifiableMap(fileOf)));
    }

    private static Checkpoint indexed(Path directory, Path index) {
        JsonNode weightMap = readWeightMap(index);
        Path root = directory.toAbsolutePath().normalize();
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>(); // shard file name -> opened file
        Map<String, SafetensorsFile> fileOf = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
                String name = e.getKey();
                if (!e.getValue().isTextual()) {
                    throw new CheckpointException(index + ": weight_map entry for tensor " + name
                            + " must be a shard file name, found " + e.getValue());
                }
                String shardName = e.getValue().textValue();
                SafetensorsFile shard = shards.get(shardName);
                if (shard == null) {
                    Path shardPath = root.resolve(shardName).normalize();
                    if (!shardPath.startsWith(root) || shardPath.equals(root)) {
                        throw new CheckpointException(index + ": tensor " + name + " is in shard \"" + shardName
                                + "\", which is not a file inside " + directory);
                    }
                    if (!Files.isRegularFile(shardPath)) {
                        throw new CheckpointException(index + ": tensor " + name + " is in shard " + shardName
                                + ", but " + shardPath + " does not exist");
                    }
                    shard = SafetensorsFile.open(shardPath);
                    shards.put(shardName, shard);
                }
                if (!shard.tensors().containsKey(name)) {
                    throw new CheckpointException(index + ": tensor " + name + " is in shard " + shardName
                            + " by the index, but " + shard.path() + " has no tensor of that name");
                }
                fileOf.put(name, shard);
            }
        } catch (RuntimeException e) {
            shards.values().forEach(SafetensorsFile::close);
            throw e;
        }
        for (SafetensorsFile shard : shards.values()) {
            for (String name : shard.tensors().keySet()) {
                if (!fileOf.containsKey(name)) {
                    // transformers loads by the index too, so such a tensor is dead weight, not an error.
                    log.warn("{}: tensor {} is not in {}; ignored", shard.path(), name, INDEX_FILE);
                }
            }
        }
        return logged(
                new Checkpoint(directory, index, List.copyOf(shards.values()), Collections.unmodifiableMap(fileOf)));
    }

    private static JsonNode readWeightMap(Path index) {
        JsonNode root;
        try {
            root = SafetensorsFile.JSON.readTree(index.toFile());
        } catch (JsonProcessingException e) {
            throw new CheckpointException(index + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new CheckpointException(index + ": cannot read: " + e, e);
        }
        JsonNode weightMap = root == null ? null : root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new CheckpointException(index + ": has no \"weight_map\" object (tensor name -> shard file)");
        }
        return weightMap;
    }

    private static Checkpoint logged(Checkpoint c) {
        if (log.isDebugEnabled()) {
            for (SafetensorsFile f : c.files) {
                log.debug(
                        "{}: {} tensors, {} bytes",
                        f.path().getFileName(),
                        f.tensors().size(),
                        f.dataBytes());
            }
        }
        long bytes = 0;
        for (SafetensorsFile f : c.files) {
            bytes += f.dataBytes();
        }
        log.info(
                "checkpoint {}: {} tensors, {} bytes in {} file(s)",
                c.directory,
                c.fileOf.size(),
                bytes,
                c.files.size());
        return c;
    }

    private static List<String> fileNames(List<Path> paths) {
        List<String> names = new ArrayList<>();
        for (Path p : paths) {
            names.add(p.getFileName().toString());
        }
        return names;
    }

    /** The checkpoint folder. */
    public Path directory() {
        return directory;
    }

    /** The safetensors files read, in the order first named by the index. */
    public List<Path> files() {
        List<Path> paths = new ArrayList<>();
        for (SafetensorsFile f : files) {
            paths.add(f.path());
        }
        return paths;
    }

    /** Every tensor name, in index (or file) order. */
    public Set<String> names() {
        return source != null ? source.names() : fileOf.keySet();
    }

    public boolean contains(String name) {
        return source != null ? source.names().contains(name) : fileOf.containsKey(name);
    }

    /** @throws CheckpointException naming the tensor, folder and files if there is no such tensor */
    public TensorInfo info(String name) {
        return source != null ? source.info(name) : file(name).info(name);
    }

    /** See {@link SafetensorsFile#raw}. */
    public ByteBuffer raw(String name) {
        return source != null ? source.floats(name) : file(name).raw(name);
    }

    /** See {@link SafetensorsFile#readFloats}. */
    public float[] readFloats(String name) {
        if (source != null) {
            float[] out = new float[Math.toIntExact(source.info(name).numel())];
            source.floats(name).asFloatBuffer().get(out);
            return out;
        }
        return file(name).readFloats(name);
    }

    /** See {@link SafetensorsFile#read}. */
    public ByteBuffer read(String name, DType target) {
        if (source != null) {
            ByteBuffer f32 = source.floats(name);
            if (target == DType.F32) {
                return f32;
            }
            if (target != DType.F16) {
                throw new IllegalArgumentException("read converts tensors to F32 or F16, not " + target);
            }
            int n = f32.remaining() / 4;
            ByteBuffer out = ByteBuffer.allocateDirect(2 * n).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                out.putShort(2 * i, HalfFloat.f32ToF16(f32.getFloat(4 * i)));
            }
            return out;
        }
        return file(name).read(name, target);
    }

    private SafetensorsFile file(String name) {
        SafetensorsFile f = fileOf.get(name);
        if (f == null) {
            Set<String> looked = new TreeSet<>(fileNames(files()));
            throw new CheckpointException("no tensor named " + name + " in checkpoint " + directory
                    + " (looked in " + String.join(", ", looked)
                    + (index == null ? "" : ", the files named by " + INDEX_FILE) + ")");
        }
        return f;
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
        if (source != null) {
            source.close();
        }
    }

    @Override
    public String toString() {
        return source != null
                ? "Checkpoint[" + source.describe() + "]"
                : "Checkpoint[" + directory + ", " + fileOf.size() + " tensors in " + files.size() + " file(s)]";
    }
}
