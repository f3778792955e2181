package ai.medqa.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.common.Json;
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
        JsonNode golden = Json.MAPPER
                .readTree(FIXTURES.resolve("mistral-swa/golden.json").toFile())
                .get("cases")
                .get(0);
        String prompt = StreamSupport.stream(golden.get("prompt").spliterator(), false)
                .map(JsonNode::asText)
                .collect(Collectors.joining(","));
        String expected = StreamSupport.stream(golden.get("greedy").spliterator(), false)
                .map(JsonNode::asText)
                .collect(Collectors.joining(" "));

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        GenerateCommand cmd = new GenerateCommand();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(err, true, StandardCharsets.UTF_8);
        assertThat(new CommandLine(new Medqa()).getSubcommands()).containsKey("generate");
        int code = new CommandLine(cmd)
                .execute(
                        "--model",
                        FIXTURES.resolve("mistral-swa/bf16-sharded").toString(),
                        "--tokens",
                        prompt,
                        "--max-new-tokens",
                        "20",
                        "--ids");

        assertThat(code).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(expected + System.lineSeparator());
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("24 prompt + 20 new tokens");
    }

    /**
     * The model folder's generation_config.json sets the decoding (sampling, top-k, eos), as transformers'
     * generate() takes it; the flags go on top; without the file it is greedy.
     */
    @Test
    void generationConfigJsonAndSamplingFlagsSetTheDecoding(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws Exception {
        Path model = tmp.resolve("model");
        java.nio.file.Files.createDirectories(model);
        try (var files = java.nio.file.Files.list(FIXTURES.resolve("mistral-swa/f32"))) {
            for (Path f : files.toList()) {
                java.nio.file.Files.copy(f, model.resolve(f.getFileName()));
            }
        }
        int[] prompt = {1, 87, 35, 79, 52, 3, 40};
        String greedy = ids(model, "--max-new-tokens", "12");
        ai.medqa.generate.GenerationConfig sampled = ai.medqa.generate.GenerationConfig.builder()
                .doSample(true)
                .temperature(1.3)
                .topK(7)
                .seed(5)
                .maxNewTokens(12)
                .build();
        java.nio.file.Files.writeString(
                model.resolve("generation_config.json"),
                "{\"do_sample\": true, \"temperature\": 1.3, \"top_k\": 7, \"bos_token_id\": 1}");
        String fromFile = ids(model, "--max-new-tokens", "12", "--seed", "5");
        try (ai.medqa.MedQA medqa = ai.medqa.MedQA.builder().model(model).build()) {
            String expected = java.util.Arrays.stream(
                            medqa.generate(prompt, sampled).tokens())
                    .mapToObj(Integer::toString)
                    .collect(Collectors.joining(" "));
            assertThat(fromFile).isEqualTo(expected).isNotEqualTo(greedy);
        }
        // --temperature 0 on top of the file: greedy again.
        assertThat(ids(model, "--max-new-tokens", "12", "--temperature", "0")).isEqualTo(greedy);
        java.nio.file.Files.writeString(model.resolve("generation_config.json"), "{\"top_k\": \"many\"}");
        GenerateCommand bad = new GenerateCommand();
        CommandLine line = new CommandLine(bad);
        java.io.StringWriter errors = new java.io.StringWriter();
        line.setErr(new java.io.PrintWriter(errors, true));
        line.setExecutionExceptionHandler((e, c, p) -> {
            errors.write(e.getMessage());
            return 1;
        });
        assertThat(line.execute("--model", model.toString(), "--tokens", "1,87", "--ids"))
                .isEqualTo(1);
        assertThat(errors.toString()).contains("generation_config.json: field top_k is \"many\"; expected an integer");
    }

    private static String ids(Path model, String... flags) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        GenerateCommand cmd = new GenerateCommand();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        java.util.List<String> args = new java.util.ArrayList<>(
                java.util.List.of("--model", model.toString(), "--tokens", "1,87,35,79,52,3,40", "--ids"));
        args.addAll(java.util.List.of(flags));
        assertThat(new CommandLine(cmd).execute(args.toArray(String[]::new))).isZero();
        return out.toString(StandardCharsets.UTF_8).strip();
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
        String cli = generateIds(
                "--model",
                FIXTURES.resolve("llama-rc/A/f32").toString(),
                "--quantize",
                "int4",
                "--lm-head",
                "int4",
                "--threads",
                "1",
                "--tokens",
                "1,268,382,10,345,56",
                "--max-new-tokens",
                "8",
                "--ids");
        String compute = generateIds(
                "--model",
                FIXTURES.resolve("llama-rc/A/f32").toString(),
                "--quantize",
                "int4",
                "--tokens",
                "1,268,382,10,345,56",
                "--max-new-tokens",
                "8",
                "--ids");
        try (ai.medqa.model.MistralModel m = ai.medqa.model.MistralModel.load(
                FIXTURES.resolve("llama-rc/A/f32"),
                ai.djl.Device.cpu(),
                ai.djl.ndarray.types.DataType.FLOAT32,
                ai.medqa.quant.Quantization.INT4.linears(64, ai.medqa.quant.LmHead.INT4))) {
            assertThat(m.projections().get("lm_head")).isInstanceOf(ai.medqa.quant.internal.Int4Linear.class);
            int[] ids = new int[8];
            try (ai.medqa.model.KvCache cache = m.newCache(prompt.length + 8)) {
                int[] feed = prompt;
                for (int i = 0; i < ids.length; i++) {
                    try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                        scope.suppressNotUsedWarning();
                        float[] logits =
                                m.forward(new int[][] {feed}, cache, false).toFloatArray();
                        int best = 0;
                        for (int v = 1; v < logits.length; v++) {
                            best = logits[v] > logits[best] ? v : best;
                        }
                        ids[i] = best;
                        feed = new int[] {best};
                    }
                }
            }
            assertThat(cli)
                    .isEqualTo(java.util.Arrays.stream(ids)
                            .mapToObj(String::valueOf)
                            .collect(Collectors.joining(" ")));
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
        return StreamSupport.stream(array.spliterator(), false)
                .map(JsonNode::asText)
                .collect(Collectors.joining(" "));
    }

    @Test
    void loraAndMergeLoraGivePeftsGreedyTokens(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        JsonNode golden =
                Json.MAPPER.readTree(FIXTURES.resolve("lora/golden.json").toFile());
        String prompt = StreamSupport.stream(golden.get("prompt").spliterator(), false)
                .map(JsonNode::asText)
                .collect(Collectors.joining(","));
        JsonNode qv = golden.get("adapters").get("C-qv");
        String base = FIXTURES.resolve("mistral-swa/f32").toString();
        assertThat(generateIds(
                        "--model",
                        base,
                        "--lora",
                        FIXTURES.resolve("lora/C-qv").toString(),
                        "--tokens",
                        prompt,
                        "--max-new-tokens",
                        "20",
                        "--ids"))
                .isEqualTo(ids(qv.get("greedy")));

        Path merged = dir.resolve("merged");
        assertThat(new CommandLine(new MergeLoraCommand())
                        .execute(
                                "--model",
                                base,
                                "--lora",
                                FIXTURES.resolve("lora/C-qv").toString(),
                                "--out",
                                merged.toString()))
                .isZero();
        assertThat(generateIds("--model", merged.toString(), "--tokens", prompt, "--max-new-tokens", "20", "--ids"))
                .isEqualTo(ids(qv.get("merged_greedy")));
    }

    @Test
    void aQuantizedCheckpointGeneratesAsQuantizingOnLoad(@org.junit.jupiter.api.io.TempDir Path dir) {
        String base = FIXTURES.resolve("mistral-swa/bf16").toString();
        Path nf4 = dir.resolve("nf4");
        assertThat(new CommandLine(new QuantizeCommand()).execute("--model", base, "--out", nf4.toString()))
                .isZero();
        String onLoad = generateIds(
                "--model", base, "--quantize", "nf4", "--tokens", "1,87,35,79", "--max-new-tokens", "12", "--ids");
        assertThat(generateIds("--model", nf4.toString(), "--tokens", "1,87,35,79", "--max-new-tokens", "12", "--ids"))
                .isEqualTo(onLoad);
        assertThat(onLoad.split(" ")).hasSize(12);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"int4", "int8"})
    void anInt4OrInt8CheckpointLoadsAsStored(String format, @org.junit.jupiter.api.io.TempDir Path dir) {
        String base = FIXTURES.resolve("mistral-swa/f32").toString();
        Path out = dir.resolve(format);
        assertThat(new CommandLine(new QuantizeCommand())
                        .execute("--model", base, "--out", out.toString(), "--format", format))
                .isZero();
        String onLoad = generateIds(
                "--model", base, "--quantize", format, "--tokens", "1,87,35,79", "--max-new-tokens", "12", "--ids");
        assertThat(generateIds("--model", out.toString(), "--tokens", "1,87,35,79", "--max-new-tokens", "12", "--ids"))
                .isEqualTo(onLoad);
        assertThat(new CommandLine(new QuantizeCommand())
                        .execute("--model", base, "--out", dir.resolve("x").toString(), "--format", "int3"))
                .isNotZero();
    }
}
