package ai.medqa.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class DemoCommandTest {

    @Test
    void runsThePipelineAndWritesTheReport(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DemoCommand cmd = new DemoCommand();
        cmd.stdout = new PrintStream(out, true, StandardCharsets.UTF_8);
        Path demo = dir.resolve("demo");
        assertThat(new CommandLine(cmd)
                        .execute("--out", demo.toString(), "--max-new-tokens", "6", "--quantize", "int4"))
                .isZero();
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text)
                .contains("RANDOM WEIGHTS")
                .contains("projections INT4")
                .contains("adapter random-adapter active")
                .contains("Q (PMID 16418930)")
                .contains("report:");
        assertThat(demo.resolve("random-adapter/adapter_config.json")).exists();
        assertThat(demo.resolve("random-model/tokenizer.json")).exists();
        for (String f : new String[] {"scores.json", "scores.csv", "report.md", "scores.png"}) {
            assertThat(Files.size(demo.resolve("report").resolve(f))).as(f).isPositive();
        }
        JsonNode scores =
                Json.MAPPER.readTree(demo.resolve("report/scores.json").toFile());
        assertThat(scores.toString())
                .contains("16418930")
                .contains("18239988")
                .contains("26578404")
                .contains("squad_f1");
    }

    /**
     * As a terminal shows it (answers on stdout and INFO logs on stderr in one stream, the command
     * line's own logging defaults): no log line inside an answer, no DJL INFO lines; --quiet leaves
     * only the demo's own output.
     */
    @Test
    void logLinesStayOutOfAnswersAndQuietSilencesThem(@TempDir Path dir) throws Exception {
        String info = demo(dir.resolve("info"), false);
        assertThat(info.lines().filter(l -> l.startsWith("A: ")))
                .hasSize(3)
                .allSatisfy(l -> assertThat(l).doesNotContainPattern("\\[main\\] (INFO|WARN|DEBUG)"));
        assertThat(info).contains("INFO ai.medqa.").doesNotContain("INFO ai.djl.");
        String quiet = demo(dir.resolve("quiet"), true);
        assertThat(quiet).doesNotContain(" INFO ").contains("Q (PMID 16418930)");
    }

    private static String demo(Path out, boolean quiet) throws Exception {
        java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                "-Dai.djl.pytorch.num_threads=1",
                "ai.medqa.examples.cli.Medqa",
                "demo",
                "--out",
                out.toString(),
                "--max-new-tokens",
                "4"));
        if (quiet) {
            command.add("--quiet");
        }
        Path log = Files.createDirectories(out.getParent()).resolve(out.getFileName() + ".log");
        Process p = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        assertThat(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        String text = Files.readString(log);
        assertThat(p.exitValue()).as(text).isZero();
        return text;
    }
}
