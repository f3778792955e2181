package ai.medqa.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code medqa finetune}: the golden-step check, a short run, and the NF4 refusal. */
class FinetuneCommandTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @TempDir
    Path tmp;

    private int run(String... args) {
        FinetuneCommand cmd = new FinetuneCommand();
        cmd.out2 = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(err, true, StandardCharsets.UTF_8);
        return new CommandLine(cmd)
                .setErr(new java.io.PrintWriter(cmd.err, true))
                .execute(args);
    }

    @Test
    void trainStepCheckPrintsTheGoldenLoss() {
        assertThat(new CommandLine(new Medqa()).getSubcommands()).containsKey("finetune");
        int code = run("--train-step-check", GenerateCommandTest.FIXTURES.toString());
        assertThat(code).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).startsWith("loss 47.6549");
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("OK: within 1e-4");
    }

    @Test
    void trainsAndWritesAPeftAdapter() throws Exception {
        Path[] md = modelAndData("model1", 32, 64, 1, 2, 1, 12, 3);
        Path model = md[0];
        Path data = md[1];
        int code = run(
                "--model",
                model.toString(),
                "--data",
                data.toString(),
                "--out",
                tmp.resolve("out").toString(),
                "--batch",
                "2",
                "--grad-accum",
                "2",
                "--max-len",
                "32",
                "--lr",
                "1e-3",
                "--max-steps",
                "2",
                "--template",
                "chat");
        assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("steps 2");
        assertThat(tmp.resolve("out/adapter_model.safetensors")).exists();
        assertThat(tmp.resolve("out/adapter_config.json")).exists();
        assertThat(tmp.resolve("out/loss.csv")).exists();
        // PEFT's AutoPeftModelForCausalLM finds the base through this field.
        assertThat(ai.medqa.common.Json.MAPPER
                        .readTree(tmp.resolve("out/adapter_config.json").toFile())
                        .get("base_model_name_or_path")
                        .asText())
                .isEqualTo(model.toAbsolutePath().normalize().toString());

        // A second run into the same folder is refused before anything loads: the adapter stays as it was.
        byte[] before = Files.readAllBytes(tmp.resolve("out/adapter_model.safetensors"));
        err.reset();
        int again = run(
                "--model",
                model.toString(),
                "--data",
                data.toString(),
                "--out",
                tmp.resolve("out").toString(),
                "--max-steps",
                "1",
                "--lr",
                "5e-2");
        assertThat(again).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8))
                .contains(
                        "--out " + tmp.resolve("out").toAbsolutePath().normalize()
                                + " already holds files (adapter_config.json, adapter_model.safetensors",
                        "--resume");
        assertThat(Files.readAllBytes(tmp.resolve("out/adapter_model.safetensors")))
                .isEqualTo(before);
        // Nor may the adapter go into the model's folder.
        err.reset();
        assertThat(run("--model", model.toString(), "--data", data.toString(), "--out", model.toString()))
                .isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("is the model's folder");
    }

    @Test
    void qloraTrainsAdaptersThroughAnNf4Base() throws Exception {
        Path[] md = modelAndData("model2", 64, 128, 2, 2, 1, 8, 4);
        Path model = md[0];
        Path data = md[1];
        Path outDir = tmp.resolve("qlora");
        int code = run(
                "--model",
                model.toString(),
                "--data",
                data.toString(),
                "--out",
                outDir.toString(),
                "--quantize",
                "nf4",
                "--batch",
                "2",
                "--max-len",
                "32",
                "--lr",
                "1e-2",
                "--max-steps",
                "2");
        assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
        // B starts at zero (PEFT's init): non-zero B after two steps means gradients crossed the NF4 base.
        try (ai.medqa.io.SafetensorsFile st =
                ai.medqa.io.SafetensorsFile.open(outDir.resolve("adapter_model.safetensors"))) {
            float[] b = st.readFloats("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
            assertThat(b).as("lora_B after training").isNotEqualTo(new float[b.length]);
        }
    }

    @Test
    void gradientCheckpointingTrainsTheSameAdapter() throws Exception {
        Path[] md = modelAndData("model3", 64, 128, 3, 2, 1, 8, 5);
        Path model = md[0];
        Path data = md[1];
        float[][] adapters = new float[2][];
        for (int run = 0; run < 2; run++) {
            Path outDir = tmp.resolve("run" + run);
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(
                    "--model",
                    model.toString(),
                    "--data",
                    data.toString(),
                    "--out",
                    outDir.toString(),
                    "--batch",
                    "2",
                    "--max-len",
                    "32",
                    "--lr",
                    "1e-2",
                    "--max-steps",
                    "3",
                    "--dropout",
                    "0",
                    "--targets",
                    "q_proj,v_proj,down_proj"));
            if (run == 1) {
                args.add("--gradient-checkpointing");
            }
            assertThat(run(args.toArray(new String[0])))
                    .as(err.toString(StandardCharsets.UTF_8))
                    .isZero();
            try (ai.medqa.io.SafetensorsFile st =
                    ai.medqa.io.SafetensorsFile.open(outDir.resolve("adapter_model.safetensors"))) {
                adapters[run] = st.readFloats("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight");
            }
        }
        assertThat(adapters[0]).as("trained at all").isNotEqualTo(new float[adapters[0].length]);
        for (int i = 0; i < adapters[0].length; i++) {
            assertThat(adapters[1][i]).isCloseTo(adapters[0][i], org.assertj.core.data.Offset.offset(1e-5f));
        }
    }

    /** A small random model with Mistral's tokenizer and eight prompt/completion pairs. */
    private Path[] modelAndData(
            String name, int hidden, int intermediate, int layers, int heads, int kvHeads, int pairs, long seed)
            throws Exception {
        Path model = tmp.resolve(name);
        RandomCheckpoint.write(
                model,
                RandomCheckpoint.config(hidden, intermediate, layers, heads, kvHeads, 32000, 128, 0),
                DType.F32,
                seed);
        Files.copy(
                Path.of("../medqa-core/src/test/resources/tokenizer/mistral-7b-v0.1/tokenizer.json"),
                model.resolve("tokenizer.json"));
        Path data = tmp.resolve(name + ".jsonl");
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < pairs; i++) {
            lines.append("{\"prompt\": \"Is drug ")
                    .append(i)
                    .append(" safe?\", \"completion\": \" Yes, in trials.\"}\n");
        }
        Files.writeString(data, lines);
        return new Path[] {model, data};
    }
}
