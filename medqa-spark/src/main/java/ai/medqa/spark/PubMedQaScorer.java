package ai.medqa.spark;

import ai.medqa.eval.LikelihoodScorer;
import ai.medqa.eval.Prompts;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Adds PubMedQA's likelihood scores to each question, as {@code medqa eval} computes them
 * ({@link LikelihoodScorer}: lm-evaluation-harness's {@code pubmedqa}): a {@code loglikelihood}
 * struct of {@code yes}, {@code no}, {@code maybe} (summed log-probabilities of each answer after the
 * prompt), the {@code prediction} (the most likely), and {@code truncated_contexts} (abstract sections
 * left out to fit). With a context column the harness's prompt ({@code Abstract: ... Question: ...
 * Answer:}), without one the question alone; {@code template} and {@code systemPrompt} as an
 * evaluation configuration's. A null question gets null scores.
 */
public final class PubMedQaScorer extends MedQATransformer<PubMedQaScorer> {
    private static final long serialVersionUID = 1L;
    static final StructType LOGLIKELIHOOD = new StructType()
            .add("yes", DataTypes.DoubleType, false)
            .add("no", DataTypes.DoubleType, false)
            .add("maybe", DataTypes.DoubleType, false);

    private final Param<String> loglikelihoodCol;
    private final Param<String> predictionCol;
    private final Param<String> truncatedCol;
    private final Param<String> template;
    private final Param<String> systemPrompt;
    private final BooleanParam bos;

    public PubMedQaScorer() {
        this(Identifiable$.MODULE$.randomUID("medqaPubMedQaScorer"));
    }

    public PubMedQaScorer(String uid) {
        super(uid);
        loglikelihoodCol =
                new Param<>(this, "loglikelihoodCol", "struct column of yes/no/maybe log-likelihoods to add");
        predictionCol = new Param<>(this, "predictionCol", "string column of the most likely answer to add");
        truncatedCol = new Param<>(this, "truncatedCol", "int column of abstract sections left out to fit");
        template = new Param<>(this, "template", "prompt with {question} and {context} (default: the harness's)");
        systemPrompt = new Param<>(this, "systemPrompt", "text before the prompt and a blank line (unset: none)");
        bos = new BooleanParam(this, "bos", "encode with the tokenizer's special tokens (BOS)");
        setDefault(loglikelihoodCol, "loglikelihood");
        setDefault(predictionCol, "prediction");
        setDefault(truncatedCol, "truncated_contexts");
        setDefault(bos, true);
        setDefault(batchSize(), 16);
    }

    public Param<String> loglikelihoodCol() {
        return loglikelihoodCol;
    }

    public Param<String> predictionCol() {
        return predictionCol;
    }

    public Param<String> truncatedCol() {
        return truncatedCol;
    }

    public Param<String> template() {
        return template;
    }

    public Param<String> systemPrompt() {
        return systemPrompt;
    }

    public BooleanParam bos() {
        return bos;
    }

    public PubMedQaScorer setPredictionCol(String value) {
        set(predictionCol, value);
        return this;
    }

    public PubMedQaScorer setLoglikelihoodCol(String value) {
        set(loglikelihoodCol, value);
        return this;
    }

    public PubMedQaScorer setTemplate(String value) {
        Prompts.check(value, "template");
        set(template, value);
        return this;
    }

    public PubMedQaScorer setSystemPrompt(String value) {
        set(systemPrompt, value);
        return this;
    }

    public PubMedQaScorer setBos(boolean value) {
        set(bos, value);
        return this;
    }

    @Override
    public StructType transformSchema(StructType schema) {
        questionIndex(schema);
        contextIndex(schema);
        StructType out = append(
                schema,
                "loglikelihoodCol",
                DataTypes.createStructField(getOrDefault(loglikelihoodCol), LOGLIKELIHOOD, true));
        out = append(
                out,
                "predictionCol",
                DataTypes.createStructField(getOrDefault(predictionCol), DataTypes.StringType, true));
        return append(
                out,
                "truncatedCol",
                DataTypes.createStructField(getOrDefault(truncatedCol), DataTypes.IntegerType, true));
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType schema = dataset.schema();
        StructType out = transformSchema(schema);
        Job job = new Job(
                modelSpec(),
                adapterOrNull(),
                batch(),
                questionIndex(schema),
                contextIndex(schema),
                isDefined(template) ? getOrDefault(template) : null,
                isDefined(systemPrompt) ? getOrDefault(systemPrompt) : null,
                (Boolean) getOrDefault(bos));
        ExecutorModels.closeWhenStopped(dataset.sparkSession().sparkContext());
        return dataset.toDF().mapPartitions(job, Encoders.row(out));
    }

    @Override
    public PubMedQaScorer copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    private record Job(
            ModelSpec spec,
            String adapter,
            int batchSize,
            int question,
            int context,
            String template,
            String systemPrompt,
            boolean bos)
            implements MapPartitionsFunction<Row, Row>, Serializable {
        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            return Batches.lazily(rows, batchSize, r -> Boolean.TRUE, this::score);
        }

        private List<Row> score(List<Row> batch) {
            try (ExecutorModels.Lease lease = ExecutorModels.acquire(spec, adapter)) {
                LikelihoodScorer scorer = new LikelihoodScorer(
                        lease.medqa().model(), lease.medqa().tokenizer(), bos);
                List<Row> out = new ArrayList<>(batch.size());
                for (Row row : batch) {
                    Object[] v = values(row, 3);
                    if (!row.isNullAt(question)) {
                        // The scorer reads the question and abstract; the id only names a question too long to fit.
                        PubMedQaItem item =
                                new PubMedQaItem("row", row.getString(question), sections(row, context), "", null);
                        LikelihoodScorer.Scored s = scorer.score(item, context >= 0, template, systemPrompt);
                        v[v.length - 3] = RowFactory.create(
                                s.loglikelihood().get("yes"),
                                s.loglikelihood().get("no"),
                                s.loglikelihood().get("maybe"));
                        v[v.length - 2] = s.prediction();
                        v[v.length - 1] = s.truncated();
                    }
                    out.add(RowFactory.create(v));
                }
                return out;
            }
        }
    }
}
