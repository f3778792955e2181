package ai.medqa.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class DoctorCommandTest {

    @Test
    void reportsTheEngineItLoads() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DoctorCommand cmd = new DoctorCommand();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        assertThat(new CommandLine(cmd).execute("--json")).isZero();
        JsonNode facts = Json.MAPPER.readTree(out.toString(StandardCharsets.UTF_8));
        assertThat(facts.get("engine").asText()).isEqualTo("loads");
        assertThat(facts.get("pytorch").asText()).isEqualTo("2.7.1");
        assertThat(facts.get("djl").asText()).isEqualTo("0.36.0");
        assertThat(facts.get("flavor").asText()).isEqualTo("cpu");
        assertThat(facts.get("pytorch_library").asText()).endsWith("libtorch_cpu.so");
        assertThat(facts.get("gpus").asInt()).isZero();
        assertThat(facts.get("ai.djl.offline").asText()).isEqualTo("true"); // surefire sets it, as the CLI does
    }
}
