package ai.medqa.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.MedQA;
import ai.medqa.chat.Conversation;
import ai.medqa.common.Json;
import ai.medqa.eval.Evaluation;
import ai.medqa.eval.PubMedQaData;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The evaluation as a Spark job in local[2,2] (two task threads, a failed task tried once more) against
 * the single-machine run, and the transformers against direct calls.
 */
class SparkEvaluationTest {
    private static final List<Evaluation.Config> CONFIGS =
            List.of(Evaluation.HARNESS, new Evaluation.Config("no-contexts", null, false));

    @TempDir
    static Path dir;

    static Path model;
    static Path single;
    static SparkSession spark;
    static int loadsBefore;

    @BeforeAll
    static void start() {
        model = TinyModel.write(dir.resolve("model"));
        single = dir.resolve("single");
        Evaluation.builder()
                .model(model)
                .limit(40)
                .configs(CONFIGS)
                .bootstrap(200)
                .out(single)
                .build()
                .run();
        loadsBefore = ExecutorModels.loads();
        spark = SparkSession.builder()
                .master("local[2,2]")
                .appName("medqa-spark-test")
                .config("spark.ui.enabled", false)
                .config("spark.sql.shuffle.partitions", 2)
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
    }

    @AfterEach
    void noFaults() {
        SparkEvaluation.faults = null;
    }

    @Test
    void fortyQuestionsTimesTwoConfigurationsGiveTheSingleMachineFiles() throws Exception {
        Path out = dir.resolve("spark");
        List<Evaluation.ConfigSummary> s = SparkEvaluation.of(
                        spark,
                        ModelSpec.of(model.toString()),
                        Evaluation.builder()
                                .limit(40)
                                .configs(CONFIGS)
                                .bootstrap(200)
                                .out(out))
                .partitions(6)
                .run();

        assertThat(s).hasSize(2);
        List<String> expected = Files.readAllLines(single.resolve("predictions.jsonl"));
        List<String> actual = Files.readAllLines(out.resolve("predictions.jsonl"));
        assertThat(actual).hasSize(80).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(expected);
        // Ordered as one machine orders them, so the files are equal byte for byte.
        assertThat(actual).isEqualTo(expected);
        for (String f : List.of("summary.json", "report.md", "summary.csv", "run.json")) {
            assertThat(out.resolve(f)).as(f).hasSameTextualContentAs(single.resolve(f));
        }
        assertThat(dir.resolve("spark/parts/_SUCCESS")).exists();

        // A rerun with the same settings writes the report from the committed parts; other settings are refused.
        SparkEvaluation.faults = (p, a, b) -> {
            throw new AssertionError("scored again");
        };
        SparkEvaluation.of(
                        spark,
                        ModelSpec.of(model.toString()),
                        Evaluation.builder()
                                .limit(40)
                                .configs(CONFIGS)
                                .bootstrap(200)
                                .out(out))
                .run();
        assertThatThrownBy(() -> SparkEvaluation.of(
                                spark,
                                ModelSpec.of(model.toString()),
                                Evaluation.builder()
                                        .limit(39)
                                        .configs(CONFIGS)
                                        .bootstrap(200)
                                        .out(out))
                        .run())
                .hasMessageContaining("questions: 40 -> 39");
    }

    @Test
    void generateModeGivesTheSingleMachineAnswersWhateverTheBatches() throws Exception {
        // Sampled with a seed: each row samples as it would alone, so other batch boundaries change nothing.
        List<Evaluation.Config> notebook =
                Evaluation.notebookPreset(List.of(), "both", 4, 7).subList(1, 3);
        Path one = dir.resolve("generate-single");
        Evaluation.builder()
                .model(model)
                .mode(Evaluation.Mode.GENERATE)
                .limit(6)
                .configs(notebook)
                .batchSize(4)
                .bootstrap(50)
                .out(one)
                .build()
                .run();
        Path out = dir.resolve("generate-spark");
        SparkEvaluation.of(
                        spark,
                        ModelSpec.of(model.toString()),
                        Evaluation.builder()
                                .mode(Evaluation.Mode.GENERATE)
                                .limit(6)
                                .configs(notebook)
                                .batchSize(4)
                                .bootstrap(50)
                                .out(out))
                .partitions(3)
                .run();

        assertThat(Files.readAllLines(out.resolve("predictions.jsonl")))
                .isEqualTo(Files.readAllLines(one.resolve("predictions.jsonl")));
        assertThat(out.resolve("summary.json")).hasSameTextualContentAs(one.resolve("summary.json"));
    }

    @Test
    void aTaskThatFailsOnceIsRetriedIntoCompleteDuplicateFreeOutput() throws Exception {
        AtomicInteger fired = new AtomicInteger();
        // Partition 1's first attempt dies computing its second batch, after the first reached the writer.
        SparkEvaluation.faults = (partition, attempt, batches) -> {
            if (partition == 1 && attempt == 0 && batches == 2) {
                fired.incrementAndGet();
                throw new IllegalStateException("injected fault");
            }
        };
        Path out = dir.resolve("retried");
        SparkEvaluation.of(
                        spark,
                        ModelSpec.of(model.toString()),
                        Evaluation.builder()
                                .limit(20)
                                .configs(CONFIGS)
                                .bootstrap(200)
                                .out(out))
                .partitions(2)
                .run();

        assertThat(fired).hasValue(1);
        List<String> lines = Files.readAllLines(out.resolve("predictions.jsonl"));
        Set<String> expected = new HashSet<>();
        for (String l : Files.readAllLines(single.resolve("predictions.jsonl"))) {
            JsonNode n = Json.MAPPER.readTree(l);
            if (limitTwenty().contains(n.get("pubid").asText())) {
                expected.add(l);
            }
        }
        assertThat(lines).hasSize(40).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(expected);
        List<String> parts = new ArrayList<>();
        try (Stream<Path> files = Files.list(out.resolve("parts"))) {
            for (Path p : files.filter(p -> p.getFileName().toString().startsWith("part-"))
                    .toList()) {
                parts.addAll(Files.readAllLines(p));
            }
        }
        assertThat(parts).hasSize(40).doesNotHaveDuplicates();
        assertThat(out.resolve("parts/_temporary")).doesNotExist();
    }

    @Test
    void theScorerAddsTheEvaluationsLikelihoods() throws Exception {
        List<PubMedQaItem> items = PubMedQaData.bundled().select(PubMedQaData.Split.TEST, List.of(), 6);
        List<Row> rows = new ArrayList<>();
        for (PubMedQaItem i : items) {
            rows.add(RowFactory.create(i.pmid(), i.question(), i.contexts().toArray(new String[0])));
        }
        StructType schema = new StructType()
                .add("pubid", DataTypes.StringType)
                .add("question", DataTypes.StringType)
                .add("abstract", DataTypes.createArrayType(DataTypes.StringType));
        Dataset<Row> df = spark.createDataFrame(rows, schema).repartition(2);
        PubMedQaScorer with = new PubMedQaScorer()
                .setModelDir(model.toString())
                .setContextCol("abstract")
                .setBatchSize(2);
        PubMedQaScorer without = new PubMedQaScorer()
                .setModelDir(model.toString())
                .setPredictionCol("p2")
                .setLoglikelihoodCol("ll2");
        without.set(without.truncatedCol(), "t2");
        List<Row> scored = without.transform(with.transform(df)).collectAsList();

        assertThat(scored).hasSize(6);
        List<JsonNode> expected = new ArrayList<>();
        for (String l : Files.readAllLines(single.resolve("predictions.jsonl"))) {
            expected.add(Json.MAPPER.readTree(l));
        }
        for (Row r : scored) {
            String pubid = r.getString(0);
            JsonNode harness = expected.stream()
                    .filter(n -> n.get("config").asText().equals("harness")
                            && n.get("pubid").asText().equals(pubid))
                    .findFirst()
                    .orElseThrow();
            JsonNode bare = expected.stream()
                    .filter(n -> n.get("config").asText().equals("no-contexts")
                            && n.get("pubid").asText().equals(pubid))
                    .findFirst()
                    .orElseThrow();
            Row ll = r.getStruct(r.fieldIndex("loglikelihood"));
            assertThat(ll.getDouble(0))
                    .isEqualTo(harness.get("loglikelihood").get("yes").asDouble());
            assertThat(ll.getDouble(1))
                    .isEqualTo(harness.get("loglikelihood").get("no").asDouble());
            assertThat(ll.getDouble(2))
                    .isEqualTo(harness.get("loglikelihood").get("maybe").asDouble());
            assertThat(r.getString(r.fieldIndex("prediction")))
                    .isEqualTo(harness.get("prediction").asText());
            assertThat(r.getInt(r.fieldIndex("truncated_contexts")))
                    .isEqualTo(harness.get("truncated_contexts").asInt());
            assertThat(r.getStruct(r.fieldIndex("ll2")).getDouble(0))
                    .isEqualTo(bare.get("loglikelihood").get("yes").asDouble());
            assertThat(r.getString(r.fieldIndex("p2")))
                    .isEqualTo(bare.get("prediction").asText());
        }
    }

    @Test
    void theAnswererAnswersAsMedQADoesRowByRow() {
        GenerationConfig greedy =
                GenerationConfig.greedy().toBuilder().maxNewTokens(6).build();
        StructType schema = new StructType()
                .add("q", DataTypes.StringType)
                .add("ctx", DataTypes.StringType)
                .add("sys", DataTypes.StringType);
        List<Row> rows = List.of(
                RowFactory.create("Is aspirin an NSAID?", "Aspirin inhibits COX.", null),
                RowFactory.create("Does metformin cause lactic acidosis?", "Rarely.", "You are terse."),
                RowFactory.create(null, "no question", null),
                RowFactory.create("What is warfarin?", null, "Answer in one word."),
                RowFactory.create("Is the sky blue?", "Rayleigh scattering.", null));
        Dataset<Row> df = spark.createDataFrame(rows, schema).repartition(2);
        QuestionAnswerer answerer = new QuestionAnswerer().setGeneration(greedy).setSystemPromptCol("sys");
        answerer.setModelDir(model.toString())
                .setQuestionCol("q")
                .setContextCol("ctx")
                .setBatchSize(2);
        List<Row> answered = answerer.transform(df).collectAsList();

        assertThat(answered).hasSize(5);
        try (MedQA medqa = MedQA.builder().model(model).build()) {
            for (Row r : answered) {
                if (r.isNullAt(0)) {
                    assertThat(r.isNullAt(3)).isTrue();
                    continue;
                }
                String system = r.isNullAt(2) ? MedQA.MEDICAL_ASSISTANT_PROMPT : r.getString(2);
                String user = r.isNullAt(1)
                        ? "Context: \n\nQuestion: " + r.getString(0)
                        : "Context: " + r.getString(1) + "\n\nQuestion: " + r.getString(0);
                String expected = medqa.generate(
                                medqa.chatPromptIds(new Conversation(system).addUser(user), greedy), greedy)
                        .text();
                assertThat(r.getString(3)).as(r.getString(0)).isEqualTo(expected);
            }
        }
    }

    @Test
    void badInputNamesTheColumn() {
        StructType schema = new StructType()
                .add("question", DataTypes.IntegerType)
                .add("text", DataTypes.StringType)
                .add("ctx", DataTypes.DoubleType);
        QuestionAnswerer a = new QuestionAnswerer();
        a.setModelDir(model.toString());
        assertThatThrownBy(() -> a.transformSchema(schema))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("questionCol")
                .hasMessageContaining("\"question\" is int; expected string");
        a.setQuestionCol("missing");
        assertThatThrownBy(() -> a.transformSchema(schema))
                .hasMessageContaining("no column \"missing\"")
                .hasMessageContaining("[question, text, ctx]");
        a.setQuestionCol("text").setContextCol("ctx");
        assertThatThrownBy(() -> a.transformSchema(schema))
                .hasMessageContaining("contextCol")
                .hasMessageContaining("\"ctx\" is double; expected string or array<string>");
        a.setContextCol("text");
        a.setOutputCol("text");
        assertThatThrownBy(() -> a.transformSchema(schema))
                .hasMessageContaining("outputCol: column \"text\" already exists");
        assertThatThrownBy(() ->
                        new PubMedQaScorer().setQuestionCol("text").transform(spark.createDataFrame(List.of(), schema)))
                .hasMessageContaining("modelDir is not set");
        assertThatThrownBy(() -> new QuestionAnswerer().setTemplate("{questions}"))
                .hasMessageContaining("unknown placeholder {questions}");
    }

    @Test
    void executorsLoadTheModelOnceForAllJobsOfTheSession() {
        // Every job of this class runs on the same ModelSpec: one load for all of them, whatever ran first.
        new PubMedQaScorer()
                .setModelDir(model.toString())
                .transform(spark.createDataFrame(
                        List.of(RowFactory.create("Is this a question?")),
                        new StructType().add("question", DataTypes.StringType)))
                .collectAsList();
        assertThat(ExecutorModels.loads() - loadsBefore).isEqualTo(1);
    }

    private static Set<String> limitTwenty() {
        Set<String> ids = new HashSet<>();
        PubMedQaData.bundled().select(PubMedQaData.Split.TEST, List.of(), 20).forEach(i -> ids.add(i.pmid()));
        return ids;
    }
}
