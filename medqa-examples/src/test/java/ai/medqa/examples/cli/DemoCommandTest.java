package ai.medqa.examples.cli;

import ai.medqa.common.Json;
import static org.assertj.core.api.Assertions.assertThat;

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
        assertThat(new CommandLine(cmd).execute("--out", demo.toString(), "--max-new-tokens", "6", "--quantize", "int4"))
                .isZero();
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("RANDOM WEIGHTS").contains("projections INT4").contains("adapter random-adapter active")
                .contains("Q (PMID 16418930)").contains("report:");
        assertThat(demo.resolve("random-adapter/adapter_config.json")).exists();
        assertThat(demo.resolve("random-model/tokenizer.json")).exists();
        for (String f : new String[] {"scores.json", "scores.csv", "report.md", "scores.png"}) {
            assertThat(Files.size(demo.resolve("report").resolve(f))).as(f).isPositive();
        }
        JsonNode scores = Json.MAPPER.readTree(demo.resolve("report/scores.json").toFile());
        assertThat(scores.toString()).contains("16418930").contains("18239988").contains("26578404").contains("squad_f1");
    }
}
