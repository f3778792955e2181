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

class EvalCommandTest {

    static Path tinyModel(Path dir) throws Exception {
        Path src = Path.of("../medqa-eval/src/test/resources/golden/tiny-mistral");
        Path tok = Path.of("../medqa-core/src/test/resources/tokenizer");
        Files.createDirectories(dir);
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        Files.copy(tok.resolve("mistral-7b-v0.1/tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.copy(tok.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        return dir;
    }

    @Test
    void evaluatesAndContinuesIntoTheSameFolder(@TempDir Path dir) throws Exception {
        Path model = tinyModel(dir.resolve("model"));
        Path out = dir.resolve("eval");
        for (int run = 0; run < 2; run++) {
            ByteArrayOutputStream stdout = new ByteArrayOutputStream();
            EvalCommand cmd = new EvalCommand();
            cmd.stdout = new PrintStream(stdout, true, StandardCharsets.UTF_8);
            int code = new CommandLine(cmd)
                    .setCaseInsensitiveEnumValuesAllowed(true)
                    .execute(
                            "--model",
                            model.toString(),
                            "--limit",
                            "4",
                            "--split",
                            "all",
                            "--out",
                            out.toString(),
                            "--bootstrap",
                            "20");
            assertThat(code).isZero();
            assertThat(stdout.toString(StandardCharsets.UTF_8)).contains("harness: n 4, accuracy");
        }
        assertThat(Files.readAllLines(out.resolve("predictions.jsonl"))).hasSize(4);
        // --report rewrites the summary from the predictions alone, no model needed.
        Files.delete(out.resolve("summary.json"));
        assertThat(new CommandLine(new EvalCommand()).execute("--report", out.toString(), "--bootstrap", "20"))
                .isZero();
        assertThat(out.resolve("summary.json")).exists();
        JsonNode summary = Json.MAPPER.readTree(out.resolve("summary.json").toFile());
        assertThat(summary.get("configs").get(0).get("n").asInt()).isEqualTo(4);
        assertThat(out.resolve("report.md")).exists();
    }

    /**
     * --fail-if-worse NEW:OLD exits 3 when NEW is worse with McNemar's p < 0.05 (here: 20 of 40 answers
     * lost, none won: p = 2 * 0.5^20), 0 otherwise; names not in the folder are refused naming them.
     */
    @Test
    void anEvaluationGateFailsOnlyWhenSignificantlyWorse(@TempDir Path dir) throws Exception {
        StringBuilder lines = new StringBuilder();
        for (int q = 0; q < 40; q++) {
            lines.append(String.format(
                    "{\"config\": \"old\", \"pubid\": \"%d\", \"label\": \"yes\", \"prediction\": \"yes\"}%n", q));
            lines.append(String.format(
                    "{\"config\": \"new\", \"pubid\": \"%d\", \"label\": \"yes\", \"prediction\": \"%s\"}%n",
                    q, q < 20 ? "no" : "yes"));
            lines.append(String.format(
                    "{\"config\": \"same\", \"pubid\": \"%d\", \"label\": \"yes\", \"prediction\": \"%s\"}%n",
                    q, q == 0 ? "no" : "yes"));
        }
        Files.writeString(dir.resolve("predictions.jsonl"), lines);
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        EvalCommand cmd = new EvalCommand();
        cmd.stdout = new PrintStream(stdout, true, StandardCharsets.UTF_8);
        assertThat(new CommandLine(cmd)
                        .execute("--report", dir.toString(), "--bootstrap", "20", "--fail-if-worse", "new:old"))
                .isEqualTo(GateOptions.GATE_FAILED);
        assertThat(stdout.toString(StandardCharsets.UTF_8))
                .contains("gate new vs old: accuracy -0.500")
                .contains("FAILED (significantly worse)");
        // One answer lost of 40 is not significant; better is never a failure.
        assertThat(new CommandLine(new EvalCommand())
                        .execute(
                                "--report",
                                dir.toString(),
                                "--bootstrap",
                                "20",
                                "--fail-if-worse",
                                "same:old",
                                "--fail-if-worse",
                                "old:new"))
                .isZero();
        java.io.StringWriter err = new java.io.StringWriter();
        CommandLine bad = new CommandLine(new EvalCommand());
        bad.setErr(new java.io.PrintWriter(err, true));
        assertThat(bad.execute("--report", dir.toString(), "--fail-if-worse", "new"))
                .isEqualTo(2);
        assertThat(err.toString()).contains("--fail-if-worse new: expected NEW:OLD");
    }

    @Test
    void adaptersAndContextsMakeConfigurations(@TempDir Path dir) throws Exception {
        Path model = tinyModel(dir.resolve("model"));
        // A rank-2 adapter on q_proj/v_proj of the tiny model, in PEFT's format.
        Path adapter = dir.resolve("tuned");
        try (ai.medqa.model.MistralModel m = ai.medqa.model.MistralModel.load(
                        model,
                        ai.djl.Device.cpu(),
                        ai.djl.ndarray.types.DataType.FLOAT32,
                        ai.medqa.model.LinearFactory.DENSE);
                ai.medqa.lora.LoraAdapter a = ai.medqa.lora.LoraAdapter.create(
                        m, "tuned", ai.medqa.lora.LoraConfig.of(2, 4, 0.0, java.util.List.of("q_proj", "v_proj")), 3)) {
            a.save(adapter);
        }
        Path out = dir.resolve("eval");
        int code = new CommandLine(new EvalCommand())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .execute(
                        "--model",
                        model.toString(),
                        "--lora",
                        "pubmed=" + adapter,
                        "--contexts",
                        "both",
                        "--limit",
                        "3",
                        "--split",
                        "all",
                        "--out",
                        out.toString(),
                        "--bootstrap",
                        "10");
        assertThat(code).isZero();
        JsonNode summary = Json.MAPPER.readTree(out.resolve("summary.json").toFile());
        java.util.List<String> names = new java.util.ArrayList<>();
        summary.get("configs").forEach(c -> names.add(c.get("name").asText()));
        assertThat(names)
                .containsExactly("harness", "harness+no-contexts", "finetuned-pubmed", "finetuned-pubmed+no-contexts");
        assertThat(summary.get("comparisons")).hasSize(3);
        assertThat(Files.readAllLines(out.resolve("predictions.jsonl"))).hasSize(12);
    }

    @Test
    void generateModeRunsTheNotebookRows(@TempDir Path dir) throws Exception {
        Path model = tinyModel(dir.resolve("model"));
        Path out = dir.resolve("eval");
        int code = new CommandLine(new EvalCommand())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .execute(
                        "--model",
                        model.toString(),
                        "--mode",
                        "generate",
                        "--max-new-tokens",
                        "4",
                        "--limit",
                        "2",
                        "--out",
                        out.toString(),
                        "--bootstrap",
                        "10");
        assertThat(code).isZero();
        JsonNode summary = Json.MAPPER.readTree(out.resolve("summary.json").toFile());
        java.util.List<String> names = new java.util.ArrayList<>();
        summary.get("configs").forEach(c -> names.add(c.get("name").asText()));
        assertThat(names).containsExactly("zero-shot", "system-prompt", "temperature-0.7");
        assertThat(summary.get("configs").get(0).get("mode").asText()).isEqualTo("generate");
        // --bertscore adds BERTScore to every answer and to the summary.
        Path scored = dir.resolve("scored");
        assertThat(new CommandLine(new EvalCommand())
                        .setCaseInsensitiveEnumValuesAllowed(true)
                        .execute(
                                "--model",
                                model.toString(),
                                "--mode",
                                "generate",
                                "--max-new-tokens",
                                "4",
                                "--limit",
                                "1",
                                "--out",
                                scored.toString(),
                                "--bootstrap",
                                "5",
                                "--bertscore"))
                .isZero();
        JsonNode line = Json.MAPPER.readTree(
                Files.readAllLines(scored.resolve("predictions.jsonl")).get(0));
        assertThat(line.get("bertscore_f").asDouble()).isBetween(-1.0, 1.0);
        assertThat(Json.MAPPER
                        .readTree(scored.resolve("summary.json").toFile())
                        .get("configs")
                        .get(0)
                        .has("bertscore_f_mean"))
                .isTrue();
        // A local judge (here the same random model: its verdicts rarely parse, and then no rating is made up).
        Path judged = dir.resolve("judged");
        assertThat(new CommandLine(new EvalCommand())
                        .setCaseInsensitiveEnumValuesAllowed(true)
                        .execute(
                                "--model",
                                model.toString(),
                                "--mode",
                                "generate",
                                "--max-new-tokens",
                                "4",
                                "--limit",
                                "1",
                                "--out",
                                judged.toString(),
                                "--bootstrap",
                                "5",
                                "--judge-dir",
                                model.toString()))
                .isZero();
        assertThat(Json.MAPPER
                        .readTree(judged.resolve("run.json").toFile())
                        .get("answer_metrics")
                        .toString())
                .contains("judge_rating");
        assertThat(new CommandLine(new EvalCommand())
                        .execute(
                                "--model",
                                model.toString(),
                                "--out",
                                dir.resolve("j").toString(),
                                "--mode",
                                "generate",
                                "--judge-endpoint",
                                "http://127.0.0.1:9"))
                .isEqualTo(2);
        CommandLine cli = new CommandLine(new EvalCommand());
        java.io.StringWriter err = new java.io.StringWriter();
        cli.setErr(new java.io.PrintWriter(err, true));
        assertThat(cli.execute(
                        "--model", model.toString(), "--out", dir.resolve("o").toString(), "--mode", "judge"))
                .isEqualTo(2);
        assertThat(err.toString()).contains("expected likelihood or generate");
    }

    /** --constrain json: JSON answers (none unknown), recorded in run.json and the summary; bad values are usage errors. */
    @Test
    void constrainJsonAnswersInJson(@TempDir Path dir) throws Exception {
        Path model = tinyModel(dir.resolve("model"));
        Path out = dir.resolve("eval");
        assertThat(new CommandLine(new EvalCommand())
                        .execute(
                                "--model",
                                model.toString(),
                                "--mode",
                                "generate",
                                "--max-new-tokens",
                                "40",
                                "--limit",
                                "2",
                                "--out",
                                out.toString(),
                                "--bootstrap",
                                "10",
                                "--constrain",
                                "json"))
                .isZero();
        for (String line : Files.readAllLines(out.resolve("predictions.jsonl"))) {
            JsonNode n = Json.MAPPER.readTree(line);
            assertThat(n.get("prediction").asText()).as(line).isIn("yes", "no", "maybe");
            assertThat(Json.MAPPER
                            .readTree(n.get("answer").asText())
                            .get("answer")
                            .asText())
                    .isEqualTo(n.get("prediction").asText());
        }
        assertThat(Json.MAPPER
                        .readTree(out.resolve("summary.json").toFile())
                        .get("answer_constraint")
                        .asText())
                .isEqualTo("json");
        for (String[] bad : new String[][] {{"--mode", "generate", "--constrain", "xml"}, {"--constrain", "json"}}) {
            java.io.StringWriter err = new java.io.StringWriter();
            CommandLine cli = new CommandLine(new EvalCommand());
            cli.setErr(new java.io.PrintWriter(err, true));
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(
                    "--model", model.toString(), "--out", dir.resolve("bad").toString()));
            args.addAll(java.util.List.of(bad));
            assertThat(cli.execute(args.toArray(new String[0]))).isEqualTo(2);
            assertThat(err.toString())
                    .contains(
                            bad.length == 4
                                    ? "--constrain xml: expected none or json"
                                    : "--constrain json applies to --mode generate");
        }
    }
}
