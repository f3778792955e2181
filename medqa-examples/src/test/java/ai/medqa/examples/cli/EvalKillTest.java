package ai.medqa.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real kill -9 of `medqa eval` in another JVM, then the same command again: nothing lost, nothing twice. */
class EvalKillTest {
    private static final ObjectMapper JSON = Json.MAPPER;

    @Test
    void killedMidRunAndRestartedEqualsAnUninterruptedRun(@TempDir Path dir) throws Exception {
        Path model = EvalCommandTest.tinyModel(dir.resolve("model"));
        Path killed = dir.resolve("killed");
        List<String> args = List.of(
                "eval",
                "--model",
                model.toString(),
                "--split",
                "all",
                "--limit",
                "120",
                "--bootstrap",
                "10",
                "--out",
                killed.toString());
        List<String> command = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                "-Dai.djl.pytorch.num_threads=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "ai.medqa.examples.cli.Medqa"));
        command.addAll(args);
        Process p = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile())
                .start();
        Path predictions = killed.resolve("predictions.jsonl");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline
                && p.isAlive()
                && (!Files.exists(predictions)
                        || Files.readAllLines(predictions).size() < 10)) {
            Thread.sleep(20);
        }
        assertThat(p.isAlive()).as("still running when killed (see child.log)").isTrue();
        p.destroyForcibly(); // SIGKILL: no shutdown hooks, no flushing
        p.waitFor(30, TimeUnit.SECONDS);
        int before = Files.readAllLines(predictions).size();
        assertThat(before).isBetween(10, 119);

        assertThat(Medqa.commandLine().execute(args.toArray(String[]::new))).isZero();
        Path whole = dir.resolve("whole");
        List<String> fresh = new java.util.ArrayList<>(args);
        fresh.set(fresh.indexOf(killed.toString()), whole.toString());
        assertThat(Medqa.commandLine().execute(fresh.toArray(String[]::new))).isZero();

        Map<String, JsonNode> a = byPubid(whole.resolve("predictions.jsonl"));
        Map<String, JsonNode> b = byPubid(predictions);
        assertThat(Files.readAllLines(predictions)).hasSize(120);
        assertThat(b.keySet()).isEqualTo(a.keySet());
        for (String pubid : a.keySet()) {
            for (String label : List.of("yes", "no", "maybe")) {
                assertThat(b.get(pubid).get("loglikelihood").get(label).asDouble())
                        .isCloseTo(a.get(pubid).get("loglikelihood").get(label).asDouble(), within(1e-5));
            }
        }
    }

    /** Ctrl-C or SIGTERM (shutdown hooks run) mid-evaluation: the command says how to continue. */
    @Test
    void anInterruptedRunSaysHowToContinue(@TempDir Path dir) throws Exception {
        Path model = EvalCommandTest.tinyModel(dir.resolve("model"));
        Path out = dir.resolve("eval");
        Process p = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        System.getProperty("java.class.path"),
                        "-Dai.djl.pytorch.num_threads=1",
                        "ai.medqa.examples.cli.Medqa",
                        "eval",
                        "--quiet",
                        "--model",
                        model.toString(),
                        "--split",
                        "all",
                        "--limit",
                        "200",
                        "--out",
                        out.toString())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile())
                .start();
        Path predictions = out.resolve("predictions.jsonl");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline
                && p.isAlive()
                && (!Files.exists(predictions)
                        || Files.readAllLines(predictions).size() < 3)) {
            Thread.sleep(20);
        }
        assertThat(p.isAlive())
                .as("still running when interrupted (see child.log)")
                .isTrue();
        p.destroy(); // SIGTERM: the JVM runs its shutdown hooks, as on Ctrl-C
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(Files.readString(dir.resolve("child.log")))
                .contains("medqa: interrupted; rerun the same command to "
                        + "continue: the answered questions are kept in " + predictions);
    }

    private static Map<String, JsonNode> byPubid(Path file) throws Exception {
        Map<String, JsonNode> m = new HashMap<>();
        for (String line : Files.readAllLines(file)) {
            JsonNode n = JSON.readTree(line);
            assertThat(m.put(n.get("pubid").asText(), n))
                    .as("pubid %s twice", n.get("pubid"))
                    .isNull();
        }
        return m;
    }
}
