package ai.medqa.examples.cli;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.util.Utils;
import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medqa doctor}: what this JVM would run MedQA on, and whether the engine loads. */
@Command(
        name = "doctor",
        mixinStandardHelpOptions = true,
        description = "Print Java, DJL and PyTorch versions, the native library in use, CPU features, threads, GPUs, "
                + "the offline flag and the cache folder. Exit 0 when the PyTorch engine loads, 1 when it cannot.")
final class DoctorCommand implements Callable<Integer> {
    @Option(names = "--json", description = "One JSON object instead of text.")
    boolean json;

    PrintStream out = System.out;

    @Override
    public Integer call() throws IOException {
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("java", System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")");
        facts.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        facts.put("cpu_cores", Runtime.getRuntime().availableProcessors());
        facts.put("cpu_features", cpuFeatures());
        facts.put("djl", Engine.getDjlVersion());
        facts.put("ai.djl.offline", System.getProperty("ai.djl.offline", "false"));
        facts.put("djl_cache", Utils.getEngineCacheDir().toString());
        for (String env : List.of("PYTORCH_LIBRARY_PATH", "PYTORCH_VERSION", "PYTORCH_FLAVOR")) {
            facts.put(env, System.getenv().getOrDefault(env, "unset"));
        }
        int code;
        try {
            Engine engine = Engine.getEngine("PyTorch");
            facts.put("pytorch", engine.getVersion());
            String library = loadedLibrary("libtorch_cpu.so");
            facts.put("pytorch_library", library);
            facts.put("flavor", library.contains("cu1") ? library.replaceAll(".*-(cu1\\d+)-.*", "$1") : "cpu");
            facts.put("intra_op_threads", JniUtils.getNumThreads());
            facts.put("inter_op_threads", JniUtils.getNumInteropThreads());
            facts.put("gpus", engine.getGpuCount());
            facts.put("engine", "loads");
            code = 0;
        } catch (RuntimeException | LinkageError e) {
            facts.put("engine", "does not load: " + Medqa.message(e));
            code = 1;
        }
        if (json) {
            ObjectNode node = Json.MAPPER.valueToTree(facts);
            out.println(node.toString());
        } else {
            facts.forEach((k, v) -> out.printf("%-22s %s%n", k, v));
        }
        return code;
    }

    /** The x86 vector features that decide PyTorch's CPU kernels, from /proc/cpuinfo. */
    private static String cpuFeatures() throws IOException {
        Path info = Path.of("/proc/cpuinfo");
        if (!Files.isReadable(info)) {
            return "unknown";
        }
        for (String line : Files.readAllLines(info)) {
            if (line.startsWith("flags")) {
                List<String> flags =
                        List.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
                return String.join(
                        " ",
                        List.of("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "avx512_fp16")
                                .stream()
                                .filter(flags::contains)
                                .toList());
            }
        }
        return "unknown";
    }

    /** Where the process loaded {@code name} from (Linux: /proc/self/maps). */
    private static String loadedLibrary(String name) throws IOException {
        Path maps = Path.of("/proc/self/maps");
        if (Files.isReadable(maps)) {
            for (String line : Files.readAllLines(maps)) {
                if (line.endsWith("/" + name)) {
                    return line.substring(line.indexOf('/'));
                }
            }
        }
        return "unknown";
    }
}
