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

    /** --lm-head int4 on a tied model and --threads reach the model: the ids of a model loaded so directly. */
    @Test
    void lmHeadAndThreadsReachTheModel() {
        int[] prompt = {1, 268, 382, 10, 345, 56};
        String cli = generateIds("--model", FIXTURES.resolve("llama-rc/A/f32").toString(), "--quantize", "int4",
                "--lm-head", "int4", "--threads", "1", "--tokens", "1,268,382,10,345,56", "--max-new-tokens", "8", "--ids");
        String compute = generateIds("--model", FIXTURES.resolve("llama-rc/A/f32").toString(), "--quantize", "int4",
                "--tokens", "1,268,382,10,345,56", "--max-new-tokens", "8", "--ids");
        try (ai.medqa.model.MistralModel m = ai.medqa.model.MistralModel.load(FIXTURES.resolve("llama-rc/A/f32"),
                ai.djl.Device.cpu(), ai.djl.ndarray.types.DataType.FLOAT32,
                ai.medqa.quant.Quantization.INT4.linears(64, ai.medqa.quant.LmHead.INT4))) {
            assertThat(m.projections().get("lm_head")).isInstanceOf(ai.medqa.quant.Int4Linear.class);
            int[] ids = new int[8];
            try (ai.medqa.model.KvCache cache = m.newCache(prompt.length + 8)) {
                int[] feed = prompt;
                for (int i = 0; i < ids.length; i++) {
                    try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                        scope.suppressNotUsedWarning();
                        float[] logits = m.forward(new int[][] {feed}, cache, false).toFloatArray();
                        int best = 0;
                        for (int v = 1; v < logits.length; v++) {
                            best = logits[v] > logits[best] ? v : best;
                        }
                        ids[i] = best;
                        feed = new int[] {best};
                    }
                }
            }
            assertThat(cli).isEqualTo(java.util.Arrays.stream(ids).mapToObj(String::valueOf).collect(Collectors.joining(" ")));
        }
        assertThat(ai.medqa.model.PyTorchThreads.get()).isEqualTo(1);
        System.out.printf("[figure] llama-rc/A INT4 greedy, int4 head: %s; compute head: %s%n", cli, compute);
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
