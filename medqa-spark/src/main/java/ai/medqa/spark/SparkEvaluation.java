package ai.medqa.spark;

import ai.medqa.eval.Evaluation;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import ai.medqa.metrics.pubmedqa.PubMedQaLabel;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PubMedQA evaluation ({@link Evaluation}'s settings, configurations and numbers) run as a Spark job
 * over its (configuration, question) pairs. Executors score their share with {@link Evaluation#lines}
 * (one model per executor JVM) and Spark writes the prediction lines as text part files through its
 * output committer, so a failed and retried task leaves neither duplicates nor half a partition. The
 * driver then reads the committed parts and writes {@code predictions.jsonl}, {@code summary.json} and
 * the report into the evaluation's folder with {@link Evaluation#reportFrom}: the same files as one
 * machine's {@link Evaluation#run}.
 *
 * <pre>{@code
 * List<Evaluation.ConfigSummary> s = SparkEvaluation.of(spark, ModelSpec.of("/models/Mistral-7B-Instruct-v0.1"),
 *         Evaluation.builder().split(PubMedQaData.Split.ALL).out(Path.of("eval"))).run();
 * }</pre>
 *
 * <p>A rerun into the same folder with the same settings reuses committed parts ({@code _SUCCESS}) and
 * only rewrites the report; other settings are refused, as {@link Evaluation#run} refuses them.
 */
public final class SparkEvaluation {
    private static final Logger log = LoggerFactory.getLogger(SparkEvaluation.class);
    static final StructType TASKS = new StructType()
            .add("config", DataTypes.IntegerType, false)
            .add("pubid", DataTypes.StringType, false)
            .add("question", DataTypes.StringType, false)
            .add("contexts", DataTypes.createArrayType(DataTypes.StringType, false), false)
            .add("long_answer", DataTypes.StringType, false)
            .add("label", DataTypes.StringType, false);

    /** Test hook: called in the task after each batch of lines is computed. */
    interface FaultInjector extends Serializable {
        void afterBatch(int partition, int attempt, int batches);
    }

    static volatile FaultInjector faults;

    private final SparkSession spark;
    private final ModelSpec model;
    private final Evaluation.Builder settings;
    private String parts;
    private int partitions;

    private SparkEvaluation(SparkSession spark, ModelSpec model, Evaluation.Builder settings) {
        this.spark = spark;
        this.model = model;
        this.settings = settings;
    }

    /**
     * An evaluation of {@code model} with {@code settings} (configurations, questions, mode, output
     * folder on the driver, bootstrap); the model of {@code settings} is replaced by {@code model},
     * which every executor loads. Answer metrics beyond the lexical ones are refused: they run on one
     * machine ({@code medqa eval}).
     */
    public static SparkEvaluation of(SparkSession spark, ModelSpec model, Evaluation.Builder settings) {
        return new SparkEvaluation(spark, model, settings);
    }

    /**
     * Where the part files go: any path Spark can write ({@code hdfs://}, {@code s3a://}, a shared
     * folder); default {@code parts} in the output folder (fine for {@code local[*]}, and on a cluster
     * only when the folder is shared). An explicit path must not hold another job's output.
     */
    public SparkEvaluation parts(String uri) {
        this.parts = uri;
        return this;
    }

    /** Tasks to split the pairs into (default: four per core of the application, at most one per pair). */
    public SparkEvaluation partitions(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("partitions must be >= 1, got " + n);
        }
        this.partitions = n;
        return this;
    }

    /** Runs the job (unless its parts are committed already) and writes the summary and report. */
    public List<Evaluation.ConfigSummary> run() {
        Path dir = Path.of(model.modelDir());
        Evaluation evaluation = settings.model(dir, model::load).build();
        if (evaluation.hasAnswerMetrics()) {
            throw new IllegalArgumentException("answer metrics (BERTScore, a judge) run on one machine (medqa eval); "
                    + "a Spark evaluation scores the lexical metrics only");
        }
        evaluation.claimOut();
        boolean own = parts == null;
        String where =
                own ? evaluation.out().resolve("parts").toAbsolutePath().toUri().toString() : parts;
        org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(where);
        try {
            FileSystem fs = path.getFileSystem(spark.sparkContext().hadoopConfiguration());
            if (fs.exists(new org.apache.hadoop.fs.Path(path, "_SUCCESS"))) {
                log.info("{} holds this evaluation's committed parts; writing the report from them", where);
            } else {
                if (fs.exists(path) && !own) {
                    throw new IllegalStateException(
                            where + " exists without _SUCCESS (an unfinished job, or other data); "
                                    + "delete it or choose another parts path");
                }
                score(evaluation, where);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot reach " + where + ": " + e.getMessage(), e);
        }
        List<String> lines = spark.read().text(where).as(Encoders.STRING()).collectAsList();
        return evaluation.reportFrom(lines);
    }

    private void score(Evaluation evaluation, String where) {
        List<ConfigSpec> configs =
                evaluation.configs().stream().map(ConfigSpec::of).toList();
        List<Row> tasks = new ArrayList<>();
        // Configuration-major, as the single-machine run: a partition mostly holds one configuration,
        // so batches and adapter switches stay whole.
        for (int c = 0; c < configs.size(); c++) {
            for (PubMedQaItem i : evaluation.questions()) {
                tasks.add(RowFactory.create(
                        c,
                        i.pmid(),
                        i.question(),
                        i.contexts().toArray(new String[0]),
                        i.longAnswer(),
                        i.finalDecision().text()));
            }
        }
        int n = partitions > 0 ? partitions : 4 * spark.sparkContext().defaultParallelism();
        n = Math.max(1, Math.min(n, tasks.size()));
        log.info(
                "PubMedQA on Spark: {} (configuration, question) pairs in {} tasks, parts in {}",
                tasks.size(),
                n,
                where);
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        ExecutorModels.closeWhenStopped(spark.sparkContext());
        Dataset<Row> rows = spark.createDataFrame(jsc.parallelize(tasks, n), TASKS);
        Job job = new Job(
                model,
                configs,
                evaluation.mode(),
                evaluation.bos(),
                evaluation.mode() == Evaluation.Mode.GENERATE ? evaluation.batchSize() : 8,
                evaluation.constrain());
        rows.mapPartitions(job, Encoders.STRING())
                .write()
                .mode(SaveMode.Overwrite)
                .text(where);
    }

    /** An {@link Evaluation.Config} Spark can ship. */
    record ConfigSpec(
            String name, String adapter, boolean contexts, String systemPrompt, SamplingSpec sampling, String template)
            implements Serializable {
        static ConfigSpec of(Evaluation.Config c) {
            return new ConfigSpec(
                    c.name(), c.adapter(), c.contexts(), c.systemPrompt(), SamplingSpec.of(c.sampling()), c.template());
        }

        Evaluation.Config toConfig() {
            return new Evaluation.Config(
                    name, adapter, contexts, systemPrompt, sampling == null ? null : sampling.toConfig(), template);
        }
    }

    private record Job(
            ModelSpec spec,
            List<ConfigSpec> configs,
            Evaluation.Mode mode,
            boolean bos,
            int batchSize,
            Evaluation.AnswerConstraint constrain)
            implements MapPartitionsFunction<Row, String>, Serializable {
        @Override
        public Iterator<String> call(Iterator<Row> rows) {
            List<Evaluation.Config> cs =
                    configs.stream().map(ConfigSpec::toConfig).toList();
            TaskContext task = TaskContext.get();
            int[] batches = {0};
            return Batches.lazily(rows, batchSize, r -> r.getInt(0), batch -> {
                Evaluation.Config config = cs.get(batch.get(0).getInt(0));
                List<PubMedQaItem> items = new ArrayList<>(batch.size());
                for (Row r : batch) {
                    items.add(new PubMedQaItem(
                            r.getString(1),
                            r.getString(2),
                            r.getList(3),
                            r.getString(4),
                            PubMedQaLabel.parse(r.getString(5)).orElseThrow()));
                }
                List<String> out;
                try (ExecutorModels.Lease lease = ExecutorModels.acquire(spec, config.adapter())) {
                    out = Evaluation.lines(lease.medqa(), config, items, mode, bos, constrain).stream()
                            .map(Object::toString)
                            .toList();
                }
                FaultInjector f = faults;
                if (f != null && task != null) {
                    f.afterBatch(task.partitionId(), task.attemptNumber(), ++batches[0]);
                }
                return out;
            });
        }
    }
}
