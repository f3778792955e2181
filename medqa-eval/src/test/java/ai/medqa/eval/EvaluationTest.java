package ai.medqa.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.common.Json;
import ai.medqa.metrics.pubmedqa.Classification;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The run around the scorer: resumable predictions, refusal of a changed run, the summary's numbers. */
class EvaluationTest {
    private static final ObjectMapper JSON = Json.MAPPER;

    @Test
    void bootstrapEqualsTheNumpyAndScikitLearnRestatement() throws Exception {
        JsonNode g = JSON.readTree(TinyModel.resource("bootstrap_golden.json").toFile());
        List<String> truth = strings(g.get("truth"));
        List<String> pred = strings(g.get("prediction"));
        Classification c = Classification.evaluate(truth, pred);
        assertThat(c.accuracy()).isCloseTo(g.get("accuracy").asDouble(), within(1e-12));
        assertThat(c.macroF1()).isCloseTo(g.get("macro_f1").asDouble(), within(1e-12));
        for (JsonNode k : g.get("cases")) {
            double[][] ci = EvaluationReport.bootstrap(
                    truth, pred, k.get("resamples").asInt(), k.get("seed").asLong());
            for (int i = 0; i < 2; i++) {
                assertThat(ci[0][i]).isCloseTo(k.get("accuracy_ci95").get(i).asDouble(), within(1e-12));
                assertThat(ci[1][i]).isCloseTo(k.get("macro_f1_ci95").get(i).asDouble(), within(1e-12));
            }
        }
    }

    @Test
    void aKilledRunContinuesToExactlyTheUninterruptedLines(@TempDir Path dir) throws Exception {
        Path model = TinyModel.write(dir.resolve("model"));
        Path full = dir.resolve("full");
        List<Evaluation.ConfigSummary> whole = Evaluation.builder()
                .model(model)
                .limit(10)
                .out(full)
                .bootstrap(200)
                .build()
                .run();
        List<String> lines = Files.readAllLines(full.resolve(Evaluation.PREDICTIONS_FILE));
        assertThat(lines).hasSize(10);

        // What a kill -9 after 4 questions, in the middle of writing the 5th, leaves behind.
        Path killed = dir.resolve("killed");
        Files.createDirectories(killed);
        Files.copy(full.resolve(Evaluation.RUN_FILE), killed.resolve(Evaluation.RUN_FILE));
        String partial =
                String.join("\n", lines.subList(0, 4)) + "\n" + lines.get(4).substring(0, 30);
        Files.writeString(killed.resolve(Evaluation.PREDICTIONS_FILE), partial, StandardCharsets.UTF_8);
        List<Evaluation.ConfigSummary> resumed = Evaluation.builder()
                .model(model)
                .limit(10)
                .out(killed)
                .bootstrap(200)
                .build()
                .run();

        Map<String, JsonNode> a = byPubid(full);
        Map<String, JsonNode> b = byPubid(killed);
        assertThat(Files.readAllLines(killed.resolve(Evaluation.PREDICTIONS_FILE)))
                .hasSize(10);
        assertThat(b.keySet()).isEqualTo(a.keySet());
        for (String pubid : a.keySet()) {
            assertThat(b.get(pubid).get("prediction")).isEqualTo(a.get(pubid).get("prediction"));
            for (String label : LikelihoodScorer.LABELS) {
                assertThat(b.get(pubid).get("loglikelihood").get(label).asDouble())
                        .as(pubid + " " + label)
                        .isCloseTo(a.get(pubid).get("loglikelihood").get(label).asDouble(), within(1e-5));
            }
        }
        assertThat(resumed.get(0).accuracy()).isEqualTo(whole.get(0).accuracy());
        assertThat(resumed.get(0).accuracyCi95()).containsExactly(whole.get(0).accuracyCi95());

        // A finished run restarted does nothing more; a changed one is refused, naming what changed.
        Evaluation.builder()
                .model(model)
                .limit(10)
                .out(killed)
                .bootstrap(200)
                .build()
                .run();
        assertThat(Files.readAllLines(killed.resolve(Evaluation.PREDICTIONS_FILE)))
                .hasSize(10);
        assertThatThrownBy(() -> Evaluation.builder()
                        .model(model)
                        .limit(10)
                        .bos(false)
                        .out(killed)
                        .build()
                        .run())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("bos: true -> false");
        assertThatThrownBy(() -> Evaluation.builder()
                        .model(model)
                        .limit(12)
                        .out(killed)
                        .build()
                        .run())
                .hasMessageContaining("questions: 10 -> 12");
    }

    @Test
    void summaryHoldsTheClassificationOfThePredictions(@TempDir Path dir) throws Exception {
        Path model = TinyModel.write(dir.resolve("model"));
        Path out = dir.resolve("eval");
        Evaluation.builder()
                .model(model)
                .pubids(List.of("16418930", "18239988", "26578404"))
                .out(out)
                .bootstrap(50)
                .build()
                .run();
        JsonNode summary = JSON.readTree(out.resolve(Evaluation.SUMMARY_FILE).toFile())
                .get("configs")
                .get(0);
        List<String> truth = new ArrayList<>();
        List<String> pred = new ArrayList<>();
        byPubid(out).values().forEach(l -> {
            truth.add(l.get("label").asText());
            pred.add(l.get("prediction").asText());
        });
        Classification c = Classification.evaluate(truth, pred);
        assertThat(summary.get("name").asText()).isEqualTo("harness");
        assertThat(summary.get("n").asInt()).isEqualTo(3);
        assertThat(summary.get("accuracy").asDouble()).isEqualTo(c.accuracy());
        assertThat(summary.get("macro_f1").asDouble()).isEqualTo(c.macroF1());
        assertThat(Files.readString(out.resolve(Evaluation.REPORT_FILE))).contains("| harness | likelihood | 3 |");
    }

    @Test
    void badSelectionsAreRefusedBeforeAnyModelLoads(@TempDir Path dir) throws Exception {
        Path nowhere = dir.resolve("no-model");
        assertThatThrownBy(() -> Evaluation.builder()
                        .model(nowhere)
                        .pubids(List.of("16418930", "123"))
                        .out(dir.resolve("o"))
                        .build())
                .hasMessageContaining("pubids not in")
                .hasMessageContaining("[123]");
        assertThatThrownBy(() -> Evaluation.builder().model(nowhere).limit(-1)).hasMessageContaining("limit");
        // An --out that cannot be a folder: a file, or below a file.
        Path file = dir.resolve("a-file");
        Files.writeString(file, "x");
        assertThatThrownBy(() -> Evaluation.builder().model(nowhere).out(file).build())
                .hasMessageContaining("is a file");
        assertThatThrownBy(() -> Evaluation.builder()
                        .model(nowhere)
                        .limit(1)
                        .out(file.resolve("sub"))
                        .build()
                        .run())
                .hasMessageContaining("cannot create --out");
        assertThatThrownBy(() -> Evaluation.builder()
                        .model(nowhere)
                        .pubids(List.of("16418930", "16418930"))
                        .out(dir.resolve("o"))
                        .build())
                .hasMessageContaining("selected twice");
    }

    @Test
    void splitsHaveTheirPublishedSizes() {
        PubMedQaData d = PubMedQaData.bundled();
        assertThat(d.select(PubMedQaData.Split.ALL, List.of(), 0)).hasSize(1000);
        assertThat(d.select(PubMedQaData.Split.TEST, List.of(), 0)).hasSize(500);
        assertThat(d.select(PubMedQaData.Split.TEST, List.of(), 7)).hasSize(7);
        assertThat(d.select(PubMedQaData.Split.ALL, List.of("26578404", "16418930"), 0))
                .extracting(i -> i.pmid())
                .containsExactly("26578404", "16418930");
    }

    @Test
    void mcNemarEqualsScipysBinomtest() {
        // scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue on fixed inputs.
        int[][] bc = {{0, 0}, {3, 0}, {5, 2}, {10, 4}, {25, 17}, {7, 7}, {40, 12}};
        double[] scipy = {1.0, 0.25, 0.453125, 0.1795654296875, 0.27995623852893914, 1.0, 0.0001275387838557407};
        for (int i = 0; i < bc.length; i++) {
            assertThat(McNemar.exactPValue(bc[i][0], bc[i][1]))
                    .as("b=%d c=%d", bc[i][0], bc[i][1])
                    .isCloseTo(scipy[i], within(1e-12));
        }
    }

    @Test
    void configurationsAreComparedWithTheFirst(@TempDir Path dir) throws Exception {
        Path model = TinyModel.write(dir.resolve("model"));
        Path out = dir.resolve("eval");
        List<Evaluation.Config> configs =
                List.of(Evaluation.HARNESS, new Evaluation.Config("no-contexts", null, false));
        List<Evaluation.ProgressUpdate> updates = new ArrayList<>();
        Evaluation.builder()
                .model(model)
                .limit(8)
                .configs(configs)
                .out(out)
                .bootstrap(100)
                .onProgress(updates::add)
                .build()
                .run();
        assertThat(updates).hasSize(16);
        assertThat(updates.get(15).done()).isEqualTo(16);
        assertThat(updates.get(15).total()).isEqualTo(16);
        JsonNode summary = JSON.readTree(out.resolve(Evaluation.SUMMARY_FILE).toFile());
        assertThat(summary.get("configs")).hasSize(2);
        JsonNode cmp = summary.get("comparisons").get(0);
        assertThat(cmp.get("baseline").asText()).isEqualTo("harness");
        assertThat(cmp.get("config").asText()).isEqualTo("no-contexts");
        assertThat(cmp.get("n").asInt()).isEqualTo(8);
        double acc0 = summary.get("configs").get(0).get("accuracy").asDouble();
        double acc1 = summary.get("configs").get(1).get("accuracy").asDouble();
        assertThat(cmp.get("accuracy_difference").asDouble()).isCloseTo(acc1 - acc0, within(1e-12));
        assertThat(cmp.get("mcnemar_p").asDouble())
                .isEqualTo(McNemar.exactPValue(
                        cmp.get("mcnemar_b").asInt(), cmp.get("mcnemar_c").asInt()));
        // Without the abstract the model reads other tokens: the likelihoods differ.
        List<String> lines = Files.readAllLines(out.resolve(Evaluation.PREDICTIONS_FILE));
        assertThat(lines).hasSize(16);
        assertThat(Files.readString(out.resolve(Evaluation.REPORT_FILE))).contains("no-contexts vs harness");
        assertThat(Files.readAllLines(out.resolve("summary.csv")))
                .hasSize(3)
                .first()
                .asString()
                .startsWith("config,mode,n,accuracy");
        for (String png : new String[] {"accuracy.png", "confusion.png"}) {
            java.awt.image.BufferedImage image =
                    javax.imageio.ImageIO.read(out.resolve(png).toFile());
            assertThat(image.getWidth()).as(png).isGreaterThanOrEqualTo(480);
        }
        if (System.getenv("MEDQA_CHART_OUT") != null) {
            Files.copy(
                    out.resolve("accuracy.png"),
                    Path.of(System.getenv("MEDQA_CHART_OUT"), "accuracy.png"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.copy(
                    out.resolve("confusion.png"),
                    Path.of(System.getenv("MEDQA_CHART_OUT"), "confusion.png"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        assertThatThrownBy(() -> Evaluation.builder()
                        .model(model)
                        .limit(2)
                        .configs(List.of(new Evaluation.Config("tuned", "absent", true)))
                        .out(dir.resolve("other"))
                        .build()
                        .run())
                .hasMessageContaining("adapter \"absent\"");
    }

    @Test
    void generateModeIsDeterministicAtTemperatureZeroAndRepeatableWithASeed(@TempDir Path dir) throws Exception {
        Path model = TinyModel.write(dir.resolve("model"));
        ai.medqa.generate.GenerationConfig greedy = ai.medqa.generate.GenerationConfig.greedy().toBuilder()
                .maxNewTokens(6)
                .build();
        ai.medqa.generate.GenerationConfig sampled =
                ai.medqa.MedQA.ASK_DEFAULTS.toBuilder().maxNewTokens(6).seed(5).build();
        List<Evaluation.Config> configs = List.of(
                new Evaluation.Config("greedy", null, false, null, greedy),
                new Evaluation.Config("sampled+contexts", null, true, "Be brief.", sampled));
        Map<String, JsonNode>[] runs = new Map[3];
        for (int r = 0; r < 3; r++) {
            Path out = dir.resolve("run" + r);
            // Runs 0 and 1 answer the 3 questions as one batch, run 2 one at a time: the same answers.
            Evaluation.builder()
                    .model(model)
                    .mode(Evaluation.Mode.GENERATE)
                    .configs(configs)
                    .limit(3)
                    .out(out)
                    .batchSize(r == 2 ? 1 : 8)
                    .bootstrap(20)
                    .build()
                    .run();
            Map<String, JsonNode> m = new HashMap<>();
            for (String line : Files.readAllLines(out.resolve(Evaluation.PREDICTIONS_FILE))) {
                JsonNode n = JSON.readTree(line);
                m.put(n.get("config").asText() + "/" + n.get("pubid").asText(), n);
            }
            runs[r] = m;
        }
        assertThat(runs[0]).hasSize(6);
        for (String k : runs[0].keySet()) {
            assertThat(runs[1].get(k).get("answer"))
                    .as(k)
                    .isEqualTo(runs[0].get(k).get("answer"));
            assertThat(runs[2].get(k).get("answer"))
                    .as(k + " batched vs alone")
                    .isEqualTo(runs[0].get(k).get("answer"));
            assertThat(runs[0].get(k).has("squad_f1")).isTrue();
            assertThat(runs[0].get(k).get("prediction").asText()).isIn("yes", "no", "maybe", "unknown");
        }
        assertThat(dir.resolve("run0").resolve("squad_f1.png")).exists();
        JsonNode summary = JSON.readTree(
                dir.resolve("run0").resolve(Evaluation.SUMMARY_FILE).toFile());
        assertThat(summary.get("configs").get(0).get("mode").asText()).isEqualTo("generate");
        assertThat(summary.get("configs").get(0).has("rougeL_f_mean")).isTrue();
        assertThat(summary.get("comparisons").get(0).has("squad_f1_difference_ci95"))
                .isTrue();
        // Sampling settings have no place in likelihood mode.
        assertThatThrownBy(() -> Evaluation.builder()
                        .model(model)
                        .configs(configs)
                        .out(dir.resolve("x"))
                        .build())
                .hasMessageContaining("sampling does not apply in likelihood mode");
    }

    /**
     * On a random model (noise unless constrained) free-text answers are mostly unreadable, so mostly
     * "unknown"; constrained to JSON none is, each prediction is the answer field, and run.json,
     * summary.json and report.md name the constraint.
     */
    @Test
    void jsonConstrainedAnswersAreNeverUnknown(@TempDir Path dir) throws Exception {
        Path model = TinyModel.write(dir.resolve("model"));
        ai.medqa.generate.GenerationConfig sampled = ai.medqa.MedQA.ASK_DEFAULTS.toBuilder()
                .temperature(1.0)
                .maxNewTokens(40)
                .seed(3)
                .build();
        List<Evaluation.Config> configs = List.of(
                new Evaluation.Config("sampled", null, false, null, sampled),
                new Evaluation.Config(
                        "greedy",
                        null,
                        false,
                        null,
                        ai.medqa.generate.GenerationConfig.greedy().toBuilder()
                                .maxNewTokens(40)
                                .build()));
        Map<String, List<JsonNode>> lines = new HashMap<>();
        for (Evaluation.AnswerConstraint c : Evaluation.AnswerConstraint.values()) {
            Path out = dir.resolve(c.label());
            Evaluation.builder()
                    .model(model)
                    .mode(Evaluation.Mode.GENERATE)
                    .configs(configs)
                    .limit(8)
                    .batchSize(4)
                    .constrain(c)
                    .out(out)
                    .bootstrap(20)
                    .build()
                    .run();
            List<JsonNode> l = new ArrayList<>();
            for (String line : Files.readAllLines(out.resolve(Evaluation.PREDICTIONS_FILE))) {
                l.add(JSON.readTree(line));
            }
            lines.put(c.label(), l);
        }
        List<JsonNode> free = lines.get("none");
        List<JsonNode> json = lines.get("json");
        assertThat(free).hasSize(16);
        assertThat(json).hasSize(16);
        assertThat(free.stream()
                        .filter(n -> n.get("prediction").asText().equals(Classification.UNKNOWN))
                        .count())
                .as("unknown free-text answers of a random model")
                .isGreaterThan(12);
        for (JsonNode n : json) {
            JsonNode answer = JSON.readTree(n.get("answer").asText());
            assertThat(n.get("prediction").asText())
                    .as(n.toString())
                    .isIn("yes", "no", "maybe")
                    .isEqualTo(answer.get("answer").asText());
            assertThat(answer.get("explanation").isTextual()).isTrue();
            assertThat(n.has("squad_f1")).isTrue();
        }
        Path out = dir.resolve("json");
        assertThat(JSON.readTree(out.resolve(Evaluation.RUN_FILE).toFile())
                        .get("constrain")
                        .asText())
                .isEqualTo("json");
        assertThat(JSON.readTree(out.resolve(Evaluation.SUMMARY_FILE).toFile())
                        .get("answer_constraint")
                        .asText())
                .isEqualTo("json");
        assertThat(Files.readString(out.resolve(Evaluation.REPORT_FILE))).contains("Answers constrained to JSON");
        assertThat(JSON.readTree(dir.resolve("none")
                                .resolve(Evaluation.SUMMARY_FILE)
                                .toFile())
                        .get("answer_constraint")
                        .asText())
                .isEqualTo("none");
        assertThat(JSON.readTree(
                                dir.resolve("none").resolve(Evaluation.RUN_FILE).toFile())
                        .has("constrain"))
                .isFalse();
        // Continuing a folder with another constraint is refused, naming it; likelihood mode has no answers to
        // constrain.
        assertThatThrownBy(() -> Evaluation.builder()
                        .model(model)
                        .mode(Evaluation.Mode.GENERATE)
                        .configs(configs)
                        .limit(8)
                        .out(out)
                        .bootstrap(20)
                        .build()
                        .run())
                .hasMessageContaining("constrain: \"json\" -> null");
        assertThatThrownBy(() -> Evaluation.builder()
                        .model(model)
                        .constrain(Evaluation.AnswerConstraint.JSON)
                        .out(out)
                        .build())
                .hasMessageContaining("constrain json applies to generate mode");
    }

    /** A JSON answer cut by the budget still has its answer field, read from what was written. */
    @Test
    void aCutJsonAnswerIsReadFromItsPrefix() {
        JsonAnswer whole = JsonAnswer.read(" {\"answer\": \"no\", \"explanation\": \"a \\\"b\\\"\"}");
        assertThat(whole).isEqualTo(new JsonAnswer("no", "a \"b\"", true));
        assertThat(JsonAnswer.read("{\"answer\":\"maybe\",\"explanation\":\"trial \\u00"))
                .isEqualTo(new JsonAnswer("maybe", "trial ", false));
        assertThat(JsonAnswer.read("{\"answer\":\"yes\",\"expl")).isEqualTo(new JsonAnswer("yes", "", false));
        assertThat(JsonAnswer.read("{\"answer\":\"ye").answer()).isEqualTo(Classification.UNKNOWN);
    }

    @Test
    void notebookPresetHasTheNotebooksRows() {
        List<Evaluation.Config> rows = Evaluation.notebookPreset(List.of("pubmedqa"), "both", 150, 1);
        assertThat(rows)
                .extracting(Evaluation.Config::name)
                .containsExactly(
                        "zero-shot",
                        "zero-shot+contexts",
                        "system-prompt",
                        "system-prompt+contexts",
                        "temperature-0.7",
                        "temperature-0.7+contexts",
                        "finetuned-pubmedqa",
                        "finetuned-pubmedqa+contexts");
        assertThat(rows.get(0).systemPrompt()).isNull();
        assertThat(rows.get(0).sampling().temperature()).isEqualTo(1.0);
        assertThat(rows.get(4).sampling().temperature()).isEqualTo(0.7);
        assertThat(rows.get(6).adapter()).isEqualTo("pubmedqa");
        List<Evaluation.Config> grid = Evaluation.withGrid(rows.subList(0, 1));
        assertThat(grid).hasSize(8);
        assertThat(grid.get(5).name()).isEqualTo("zero-shot@t0.7-p0.8-r1.2");
        assertThat(grid.get(5).sampling().temperature()).isEqualTo(0.7);
        assertThat(grid.get(5).sampling().topP()).isEqualTo(0.8);
        assertThat(grid.get(5).sampling().repetitionPenalty()).isEqualTo(1.2);
        assertThat(grid.get(5).sampling().seed())
                .isEqualTo(rows.get(0).sampling().seed());
    }

    @Test
    void longAbstractsAreCutToFitAndCounted(@TempDir Path dir) throws Exception {
        Path model = TinyModel.write(dir.resolve("model"));
        // A 256-position copy of the tiny model: most abstracts no longer fit.
        com.fasterxml.jackson.databind.node.ObjectNode config = (com.fasterxml.jackson.databind.node.ObjectNode)
                JSON.readTree(model.resolve("config.json").toFile());
        config.put("max_position_embeddings", 256);
        Files.writeString(model.resolve("config.json"), config.toString());
        for (Evaluation.Mode mode : Evaluation.Mode.values()) {
            Path out = dir.resolve(mode.name());
            ai.medqa.generate.GenerationConfig greedy = ai.medqa.generate.GenerationConfig.greedy().toBuilder()
                    .maxNewTokens(4)
                    .build();
            List<Evaluation.Config> configs = mode == Evaluation.Mode.LIKELIHOOD
                    ? List.of(Evaluation.HARNESS)
                    : List.of(new Evaluation.Config("generated", null, true, null, greedy));
            List<Evaluation.ConfigSummary> s = Evaluation.builder()
                    .model(model)
                    .mode(mode)
                    .configs(configs)
                    .limit(4)
                    .out(out)
                    .bootstrap(10)
                    .build()
                    .run();
            assertThat(s.get(0).n()).as(mode.name()).isEqualTo(4);
            assertThat(s.get(0).truncatedQuestions())
                    .as(mode + ": questions whose abstract was cut")
                    .isPositive();
            for (String line : Files.readAllLines(out.resolve(Evaluation.PREDICTIONS_FILE))) {
                assertThat(JSON.readTree(line).has("truncated_contexts")).isTrue();
            }
        }
    }

    @Test
    void specFilesDefineConfigurationsAndNameWhatIsWrong(@TempDir Path dir) throws Exception {
        Path spec = Files.writeString(dir.resolve("spec.json"), """
                {"configs": [
                  {"name": "harness"},
                  {"name": "short", "template": "Q: {question}\\nA:", "contexts": false},
                  {"name": "role", "system_prompt": "You are careful {really}.", "contexts": true}
                ]}""");
        List<Evaluation.Config> configs = SpecFile.read(spec);
        assertThat(configs).extracting(Evaluation.Config::name).containsExactly("harness", "short", "role");
        Path model = TinyModel.write(dir.resolve("model"));
        Path out = dir.resolve("eval");
        List<Evaluation.ConfigSummary> s = Evaluation.builder()
                .model(model)
                .configs(configs)
                .limit(3)
                .out(out)
                .bootstrap(10)
                .build()
                .run();
        assertThat(s).hasSize(3);
        Map<String, Map<String, JsonNode>> byConfig = new HashMap<>();
        for (String line : Files.readAllLines(out.resolve(Evaluation.PREDICTIONS_FILE))) {
            JsonNode n = JSON.readTree(line);
            byConfig.computeIfAbsent(n.get("config").asText(), k -> new HashMap<>())
                    .put(n.get("pubid").asText(), n);
        }
        // Another prompt, other likelihoods; the harness row is the harness's.
        String pubid = byConfig.get("harness").keySet().iterator().next();
        assertThat(byConfig.get("short").get(pubid).get("loglikelihood"))
                .isNotEqualTo(byConfig.get("harness").get(pubid).get("loglikelihood"));
        assertThat(byConfig.get("role").get(pubid).get("loglikelihood"))
                .isNotEqualTo(byConfig.get("harness").get(pubid).get("loglikelihood"));

        assertBadSpec(dir, "[{\"name\": \"x\", \"temprature\": 0.5}]", "unknown field \"temprature\"");
        assertBadSpec(
                dir, "[{\"name\": \"x\", \"template\": \"{question} {abstract}\"}]", "unknown placeholder {abstract}");
        assertBadSpec(dir, "[{\"name\": \"x\", \"template\": \"{context}\"}]", "has no {question}");
        assertBadSpec(dir, "[{\"name\": \"x\", \"sampling\": {\"top_p\": 2}}]", "configs[0].sampling");
        assertBadSpec(dir, "[{\"template\": \"{question}\"}]", "configs[0].name");
        assertThatThrownBy(() -> Evaluation.builder()
                        .model(model)
                        .configs(SpecFile.read(Files.writeString(
                                dir.resolve("g.json"), "[{\"name\": \"x\", \"sampling\": {\"temperature\": 0.5}}]")))
                        .out(dir.resolve("o"))
                        .build())
                .hasMessageContaining("sampling does not apply in likelihood mode");
    }

    private static void assertBadSpec(Path dir, String json, String message) throws Exception {
        Path f = Files.writeString(dir.resolve("bad.json"), json);
        assertThatThrownBy(() -> SpecFile.read(f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bad.json")
                .hasMessageContaining(message);
    }

    private static Map<String, JsonNode> byPubid(Path out) throws Exception {
        Map<String, JsonNode> m = new HashMap<>();
        for (String line : Files.readAllLines(out.resolve(Evaluation.PREDICTIONS_FILE))) {
            JsonNode n = JSON.readTree(line);
            m.put(n.get("pubid").asText(), n);
        }
        return m;
    }

    private static List<String> strings(JsonNode a) {
        List<String> out = new ArrayList<>();
        a.forEach(x -> out.add(x.asText()));
        return out;
    }
}
