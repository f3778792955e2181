package ai.medqa.examples.cli;

import ai.medqa.common.Json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code medqa generate --ids} prints exactly the reference greedy ids of fixture model C. */
class GenerateCommandTest {
    /** The fixtures live in medqa-core's test resources; Maven runs tests from the module folder. */
    static final Path FIXTURES = Path.of("../medqa-core/src/test/resources/fixtures");

    @Test
    void printsTheGreedyIdsOnOneLine() throws Exception {
        JsonNode golden = Json.MAPPER.readTree(FIXTURES.resolve("mistral-swa/golden.json").toFile())
                .get("cases").get(0);
        String prompt = StreamSupport.stream(golden.get("prompt").spliterator(), false).map(JsonNode::asText)
                .collect(Collectors.joining(","));
        String expected = StreamSupport.stream(golden.get("greedy").spliterator(), false).map(JsonNode::asText)
                .collect(Collectors.joining(" "));

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        GenerateCommand cmd = new GenerateCommand();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(err, true, StandardCharsets.UTF_8);
        assertThat(new CommandLine(new Medqa()).getSubcommands()).containsKey("generate");
        int code = new CommandLine(cmd).execute("--model", FIXTURES.resolve("mistral-swa/bf16-sharded").toString(),
                "--tokens", prompt, "--max-new-tokens", "20", "--ids");

        assertThat(code).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(expected + System.lineSeparator());
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("24 prompt + 20 new tokens");
    }

    @Test
    void aTextPromptNeedsATokenizer() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        GenerateCommand cmd = new GenerateCommand();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        CommandLine line = new CommandLine(cmd);
        java.io.StringWriter errors = new java.io.StringWriter();
        line.setErr(new java.io.PrintWriter(errors));
        int code = line.execute("--model", FIXTURES.resolve("mistral-swa/f32").toString(), "--prompt", "hi");
        assertThat(code).isNotZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).isEmpty();
        assertThat(errors.toString()).contains("tokenizer");
    }

    private static String generateIds(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        GenerateCommand cmd = new GenerateCommand();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        assertThat(new CommandLine(cmd).execute(args)).isZero();
        return out.toString(StandardCharsets.UTF_8).strip();
    }

    private static String ids(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).collect(Collectors.joining(" "));
    }

    @Test
    void loraAndMergeLoraGivePeftsGreedyTokens(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        JsonNode golden = Json.MAPPER.readTree(FIXTURES.resolve("lora/golden.json").toFile());
        String prompt = StreamSupport.stream(golden.get("prompt").spliterator(), false).map(JsonNode::asText)
                .collect(Collectors.joining(","));
        JsonNode qv = golden.get("adapters").get("C-qv");
        String base = FIXTURES.resolve("mistral-swa/f32").toString();
        assertThat(generateIds("--model", base, "--lora", FIXTURES.resolve("lora/C-qv").toString(), "--tokens", prompt,
                "--max-new-tokens", "20", "--ids")).isEqualTo(ids(qv.get("greedy")));

        Path merged = dir.resolve("merged");
        assertThat(new CommandLine(new MergeLoraCommand()).execute("--model", base, "--lora",
                FIXTURES.resolve("lora/C-qv").toString(), "--out", merged.toString())).isZero();
        assertThat(generateIds("--model", merged.toString(), "--tokens", prompt, "--max-new-tokens", "20", "--ids"))
                .isEqualTo(ids(qv.get("merged_greedy")));
    }

    @Test
    void aQuantizedCheckpointGeneratesAsQuantizingOnLoad(@org.junit.jupiter.api.io.TempDir Path dir) {
        String base = FIXTURES.resolve("mistral-swa/bf16").toString();
        Path nf4 = dir.resolve("nf4");
        assertThat(new CommandLine(new QuantizeCommand()).execute("--model", base, "--out", nf4.toString())).isZero();
        String onLoad = generateIds("--model", base, "--quantize", "nf4", "--tokens", "1,87,35,79", "--max-new-tokens", "12",
                "--ids");
        assertThat(generateIds("--model", nf4.toString(), "--tokens", "1,87,35,79", "--max-new-tokens", "12", "--ids"))
                .isEqualTo(onLoad);
        assertThat(onLoad.split(" ")).hasSize(12);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"int4", "int8"})
    void anInt4OrInt8CheckpointLoadsAsStored(String format, @org.junit.jupiter.api.io.TempDir Path dir) {
        String base = FIXTURES.resolve("mistral-swa/f32").toString();
        Path out = dir.resolve(format);
        assertThat(new CommandLine(new QuantizeCommand()).execute("--model", base, "--out", out.toString(), "--format",
                format)).isZero();
        String onLoad = generateIds("--model", base, "--quantize", format, "--tokens", "1,87,35,79", "--max-new-tokens",
                "12", "--ids");
        assertThat(generateIds("--model", out.toString(), "--tokens", "1,87,35,79", "--max-new-tokens", "12", "--ids"))
                .isEqualTo(onLoad);
        assertThat(new CommandLine(new QuantizeCommand()).execute("--model", base, "--out", dir.resolve("x").toString(),
                "--format", "int3")).isNotZero();
    }
}
