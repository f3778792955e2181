package ai.medqa.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** How the command line reports failures: one line and exit 1, usage errors exit 2, --verbose adds the trace. */
class ErrorsTest {

    record Run(int code, String err) {
        String[] lines() {
            return err.strip().split("\\R");
        }
    }

    static Run run(String... args) {
        CommandLine cli = Medqa.commandLine();
        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err, true));
        cli.setOut(new PrintWriter(new StringWriter(), true));
        int code = cli.execute(args);
        return new Run(code, err.toString());
    }

    @Test
    void aFailureIsOneLineAndExitCodeOne(@TempDir Path dir) {
        Path missing = dir.resolve("no-such-model");
        Run r = run("generate", "--model", missing.toString(), "--tokens", "1,2", "--max-new-tokens", "2");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.lines()).hasSize(1);
        assertThat(r.lines()[0]).startsWith("medqa: error: ").contains("no-such-model");
    }

    @Test
    void verbosePrintsTheStackTrace(@TempDir Path dir) {
        Run r = run(
                "generate",
                "--verbose",
                "--model",
                dir.resolve("nope").toString(),
                "--tokens",
                "1",
                "--max-new-tokens",
                "2");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.lines()[0]).startsWith("medqa: error: ");
        assertThat(r.err()).contains("\tat ai.medqa.");
    }

    @Test
    void cudaWithoutAGpuFailsBeforeLoadingAndSaysHowToGetIt() {
        // No GPU here or in CI: the check must fail with what DJL resolved, before the model is read.
        Path model = Path.of("../medqa-core/src/test/resources/fixtures/mistral-swa/f32");
        Run r = run(
                "generate", "--device", "cuda", "--model", model.toString(), "--tokens", "1", "--max-new-tokens", "1");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.lines()).hasSize(1);
        assertThat(r.lines()[0])
                .contains("device gpu(0)")
                .contains("sees 0 GPU(s)")
                .contains("PYTORCH_LIBRARY_PATH")
                .contains("cu128");
    }

    @Test
    void optionsAreCheckedBeforeTheModelLoads(@TempDir Path dir) {
        // The folder does not exist: the error must be about the option, found before any load.
        Run r = run("generate", "--model", dir.resolve("absent").toString(), "--tokens", "1", "--max-new-tokens", "0");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err())
                .contains("--max-new-tokens 0: must be an integer >= 1")
                .doesNotContain("absent");
    }

    @Test
    void anOutThatIsADirectoryIsNamed(@TempDir Path dir) throws Exception {
        Path in = java.nio.file.Files.writeString(
                dir.resolve("pairs.jsonl"), "{\"candidate\": \"a b\", \"reference\": \"a b\"}\n");
        Run r = run("score", "--in", in.toString(), "--out", dir.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.lines()[0]).startsWith("medqa: error: ").contains("is a directory");
    }

    @Test
    void aKilledRunsStagingIsRemovedByTheNextRunIntoTheSameFolder(@TempDir Path dir) throws Exception {
        Path source = Path.of("../medqa-core/src/test/resources/fixtures/llama-rc/A/f32");
        Path target = dir.resolve("quantized");
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        // What `medqa quantize` leaves when killed mid-write: its hidden staging folder, named with its pid.
        Path stale = java.nio.file.Files.createDirectories(dir.resolve(".quantized." + p.pid() + ".0badcafe.tmp"));
        java.nio.file.Files.writeString(stale.resolve("model-00001-of-00002.safetensors"), "half a shard");
        long live = ProcessHandle.current().parent().orElseThrow().pid();
        Path concurrent = java.nio.file.Files.createDirectories(dir.resolve(".quantized." + live + ".12345678.tmp"));
        Path unrelated = java.nio.file.Files.createDirectories(dir.resolve("checkpoint-6"));
        Run r = run("quantize", "--model", source.toString(), "--out", target.toString(), "--format", "int8");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(target.resolve("config.json")).exists();
        assertThat(stale).doesNotExist();
        assertThat(concurrent).exists();
        assertThat(unrelated).exists();
    }

    @Test
    void nonUtf8JsonLinesNameTheFileAndLine(@TempDir Path dir) throws Exception {
        Path in = java.nio.file.Files.write(
                dir.resolve("pairs.jsonl"),
                ("{\"candidate\": \"a\", \"reference\": \"a\"}\n"
                                + "{\"candidate\": \"caf\u00e9\", \"reference\": \"a\"}\n")
                        .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        Run r = run(
                "score",
                "--in",
                in.toString(),
                "--out",
                dir.resolve("out.jsonl").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.lines()[0]).contains("pairs.jsonl").contains("line 2").contains("UTF-8");
    }

    @Test
    void threadsAndLmHeadAreCheckedBeforeTheModelLoads(@TempDir Path dir) {
        Run threads = run("generate", "--model", dir.resolve("absent").toString(), "--tokens", "1", "--threads", "-1");
        assertThat(threads.code()).isEqualTo(2);
        assertThat(threads.err())
                .contains("--threads -1: expected a number of threads >= 1")
                .doesNotContain(dir.toString());
        Run head = run("generate", "--model", dir.resolve("absent").toString(), "--tokens", "1", "--lm-head", "int5");
        assertThat(head.code()).isEqualTo(2);
        assertThat(head.err())
                .contains("--lm-head int5: expected compute, int8 or int4")
                .doesNotContain(dir.toString());
        Run matmul = run(
                "generate",
                "--model",
                dir.resolve("absent").toString(),
                "--tokens",
                "1",
                "--float32-matmul-precision",
                "fast");
        assertThat(matmul.code()).isEqualTo(2);
        assertThat(matmul.err()).contains("--float32-matmul-precision fast: expected highest or medium");
        Run bf16 = run(
                "generate",
                "--model",
                dir.resolve("absent").toString(),
                "--tokens",
                "1",
                "--float32-matmul-precision",
                "MEDIUM",
                "--precision",
                "bf16");
        assertThat(bf16.code()).isEqualTo(2);
        assertThat(bf16.err()).contains("--float32-matmul-precision medium applies to --precision F32");
    }

    @Test
    void usageErrorsAreTheMessageAndAPointerToHelpWithExitCodeTwo() {
        Run r = run("generate", "--tokens", "1", "--no-such-option");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err())
                .contains("Unknown option: '--no-such-option'", "Try 'medqa generate --help' for more information.")
                .doesNotContain("Usage:")
                .doesNotContain("medqa: error:");
    }

    /** Every bad value a user can type names the flag and what it takes, exit 2, before any model is read. */
    @Test
    void badValuesNameTheFlagInTheUsersWords(@TempDir Path dir) throws Exception {
        String model = dir.resolve("absent").toString();
        String[][] cases = {
            {
                "--precision fp8",
                "Invalid value for option '--precision'",
                "ask",
                "--model",
                model,
                "--precision",
                "fp8",
                "q"
            },
            {
                "--quantize int3",
                "--quantize int3: expected int4, nf4, int8 or none",
                "ask",
                "--model",
                model,
                "--quantize",
                "int3",
                "q"
            },
            {
                "--max-new-tokens -5",
                "--max-new-tokens -5: must be an integer >= 1",
                "ask",
                "--model",
                model,
                "--max-new-tokens",
                "-5",
                "q"
            },
            {"--top-p 2", "--top-p 2.0: must be", "ask", "--model", model, "--top-p", "2", "q"},
            {"no question", "no question: give it as an argument", "ask", "--model", model},
            {"--lora =", "--lora \"=\": expected NAME=DIR or DIR", "ask", "--model", model, "--lora", "=", "q"},
            {
                "--log-level",
                "--log-level loud: expected error, warn, info, debug or trace",
                "--log-level",
                "loud",
                "doctor"
            },
            {
                "--method",
                "--method ppo: expected sft, dpo or kto",
                "finetune",
                "--model",
                model,
                "--data",
                model,
                "--out",
                model + "-out",
                "--method",
                "ppo"
            },
        };
        for (String[] c : cases) {
            Run r = run(java.util.Arrays.copyOfRange(c, 2, c.length));
            assertThat(r.code()).as(c[0] + ": " + r.err()).isEqualTo(2);
            assertThat(r.err())
                    .as(c[0])
                    .contains(c[1])
                    .doesNotContain("GenerationConfig.")
                    .doesNotContain("Usage:");
        }
        Path file = java.nio.file.Files.writeString(dir.resolve("config.json"), "{}");
        Run r = run("ask", "--model", file.toString(), "q");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err())
                .contains("--model " + file + ": a file that is not GGUF; expected a Hugging Face model folder")
                .doesNotContain("FileSystemException");
        Run ollama = run("ask", "--model", "ollama:no-such-model-here:7b", "q");
        assertThat(ollama.code()).isEqualTo(2);
        assertThat(ollama.err()).contains("ollama:no-such-model-here:7b: Ollama has no such model here");
        Run notGguf = run("inspect", file.toString());
        assertThat(notGguf.code()).isEqualTo(2);
        assertThat(notGguf.err()).contains("FILE " + file + ": not a GGUF file");
    }

    /** inspect: a GGUF file's metadata, tensor types and the model MedQA reads from it. */
    @Test
    void inspectDescribesAGgufFile() {
        InspectCommand inspect = new InspectCommand();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        inspect.out = new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8);
        int code = new CommandLine(inspect).execute("../medqa-core/src/test/resources/gguf/tiny-Q4_K_M.gguf");
        assertThat(code).isZero();
        assertThat(out.toString(java.nio.charset.StandardCharsets.UTF_8))
                .contains("general.architecture = llama")
                .contains("tensors Q4_K: 6")
                .contains("tensors Q6_K: 3")
                .contains("MedQA runs it as: 1 layers, hidden 256, ffn 512, heads 4/2 (head dim 64), vocab 256");
    }

    /** quantize converts a GGUF file into a folder (int4 keeps its 4-bit codes in groups of 32 by default). */
    @Test
    void quantizeConvertsAGgufFile(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("tiny-int4");
        Run r = run(
                "quantize",
                "--model",
                "../medqa-core/src/test/resources/gguf/tiny-Q4_0.gguf",
                "--format",
                "int4",
                "--out",
                out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        com.fasterxml.jackson.databind.JsonNode config =
                ai.medqa.common.Json.MAPPER.readTree(out.resolve("config.json").toFile());
        assertThat(config.path("quantization_config").path("group_size").asInt())
                .isEqualTo(32);
        assertThat(out.resolve("tokenizer.json")).exists();
        Run again = run(
                "quantize",
                "--model",
                "../medqa-core/src/test/resources/gguf/tiny-Q4_0.gguf",
                "--format",
                "int4",
                "--out",
                out.toString());
        assertThat(again.code()).isEqualTo(1);
        assertThat(again.err()).contains(out + ": it exists");
    }

    /** A missing field says which one and what the line has; an output path that cannot be made says why, not just a path. */
    @Test
    void missingFieldsAndUnwritableOutputsAreExplained(@TempDir Path dir) throws Exception {
        Path in = java.nio.file.Files.writeString(
                dir.resolve("pairs.jsonl"), "{\"answer\": \"a b\", \"reference\": \"a\"}\n");
        Run missing = run(
                "score", "--in", in.toString(), "--out", dir.resolve("s.jsonl").toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.lines()[0])
                .contains("line 1: no field 'candidate'")
                .contains("the line has answer, reference")
                .doesNotContain("must be a string");
        Path good = java.nio.file.Files.writeString(
                dir.resolve("good.jsonl"), "{\"candidate\": \"a b\", \"reference\": \"a\"}\n");
        Path file = java.nio.file.Files.writeString(dir.resolve("a-file"), "x");
        Run unwritable = run(
                "score",
                "--in",
                good.toString(),
                "--out",
                file.resolve("sub/s.jsonl").toString());
        assertThat(unwritable.code()).isEqualTo(1);
        assertThat(unwritable.lines()[0])
                .matches("medqa: error: .*a-file.*: .+")
                .doesNotEndWith("a-file");
    }

    /** picocli formats descriptions with String.format: a bare % breaks a help text (and prints warnings). */
    @Test
    void everyHelpTextFormats() {
        java.io.PrintStream saved = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            for (String command : Medqa.commandLine().getSubcommands().keySet()) {
                StringWriter out = new StringWriter();
                CommandLine cli = Medqa.commandLine();
                cli.setOut(new PrintWriter(out, true));
                assertThat(cli.execute(command, "--help")).as(command).isZero();
            }
        } finally {
            System.setErr(saved);
        }
        assertThat(captured.toString(java.nio.charset.StandardCharsets.UTF_8))
                .doesNotContain("picocli WARN")
                .doesNotContain("Could not format");
    }

    @Test
    void enumOptionsAreCaseInsensitive(@TempDir Path dir) {
        // Parsing succeeds (bf16 is BF16); the run then fails on the missing model, not on the option.
        Run r = run(
                "generate",
                "--precision",
                "bf16",
                "--model",
                dir.resolve("x").toString(),
                "--tokens",
                "1",
                "--max-new-tokens",
                "1");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).doesNotContain("Invalid value");
    }
}
