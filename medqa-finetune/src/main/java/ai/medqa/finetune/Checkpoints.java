package ai.medqa.finetune;

import ai.djl.ndarray.NDArray;
import ai.medqa.common.Json;
import ai.medqa.common.Staging;
import ai.medqa.io.DType;
import ai.medqa.io.SafetensorsFile;
import ai.medqa.io.SafetensorsWriter;
import ai.medqa.io.TensorData;
import ai.medqa.lora.LoraAdapter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoint folders {@code out/checkpoint-<step>/}: the adapter in PEFT's format, {@code
 * optimizer.safetensors} (AdamW's two moments per parameter, float32, and its step count) and {@code
 * trainer_state.json}. A checkpoint is written in full into a hidden temporary folder that is then
 * renamed, so a crash leaves either a complete checkpoint or none (and a stray temporary folder,
 * removed on the next save); only complete ones are ever resumed from.
 */
final class Checkpoints {
    private static final Logger log = LoggerFactory.getLogger(Checkpoints.class);
    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)");
    static final String OPTIMIZER_FILE = "optimizer.safetensors";
    static final String STATE_FILE = "trainer_state.json";

    private Checkpoints() {}

    static Path save(
            Path out, LoraAdapter adapter, LoraParameters params, AdamW optimizer, TrainerState state, int keep) {
        Path target = out.resolve("checkpoint-" + state.step());
        Path tmp = null;
        try {
            Files.createDirectories(out);
            // Named with this process's id: a later run removes it only if this process is gone.
            tmp = Staging.directory(target);
            adapter.save(tmp);
            Map<String, TensorData> moments = new LinkedHashMap<>();
            for (int i = 0; i < params.names().size(); i++) {
                String name = params.names().get(i);
                moments.put(name + ".exp_avg", tensor(optimizer.expAvg().get(i)));
                moments.put(name + ".exp_avg_sq", tensor(optimizer.expAvgSq().get(i)));
            }
            SafetensorsWriter.write(
                    tmp.resolve(OPTIMIZER_FILE),
                    moments,
                    Map.of("format", "pt", "optimizer", "AdamW", "step", Long.toString(optimizer.steps())));
            Files.writeString(tmp.resolve(STATE_FILE), Json.PRETTY.writeValueAsString(state));
            deleteTree(target); // a checkpoint of the same step from a run that was resumed before it
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + target + ": " + e.getMessage(), e);
        }
        prune(out, keep);
        log.info("saved checkpoint {}", target);
        return target;
    }

    /** The complete checkpoint with the highest step, if any. */
    static Optional<Path> latest(Path out) {
        return list(out).stream().max(Comparator.comparingLong(Checkpoints::step));
    }

    static TrainerState readState(Path checkpoint) {
        try {
            return Json.MAPPER.readValue(checkpoint.resolve(STATE_FILE).toFile(), TrainerState.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + checkpoint.resolve(STATE_FILE) + ": " + e.getMessage(), e);
        }
    }

    /** Restores AdamW's moments and step count from {@code checkpoint}. */
    static void restoreOptimizer(Path checkpoint, LoraParameters params, AdamW optimizer) {
        try (SafetensorsFile st = SafetensorsFile.open(checkpoint.resolve(OPTIMIZER_FILE))) {
            List<float[]> m = new ArrayList<>();
            List<float[]> v = new ArrayList<>();
            for (String name : params.names()) {
                m.add(st.readFloats(name + ".exp_avg"));
                v.add(st.readFloats(name + ".exp_avg_sq"));
            }
            optimizer.restore(Long.parseLong(st.metadata().get("step")), m, v);
        }
    }

    static List<Path> list(Path out) {
        if (!Files.isDirectory(out)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(out)) {
            return s.filter(p -> Files.isDirectory(p)
                            && NAME.matcher(p.getFileName().toString()).matches()
                            && Files.exists(p.resolve(STATE_FILE)))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static long step(Path checkpoint) {
        Matcher m = NAME.matcher(checkpoint.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    private static void prune(Path out, int keep) {
        List<Path> all = new ArrayList<>(list(out));
        all.sort(Comparator.comparingLong(Checkpoints::step).reversed());
        for (int i = Math.max(1, keep); i < all.size(); i++) {
            try {
                deleteTree(all.get(i));
            } catch (IOException e) {
                log.warn("cannot delete old checkpoint {}: {}", all.get(i), e.toString());
            }
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static TensorData tensor(NDArray a) {
        return TensorData.ofFloats(DType.F32, a.getShape().getShape(), a.toFloatArray());
    }
}
