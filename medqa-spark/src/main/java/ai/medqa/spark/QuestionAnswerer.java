package ai.medqa.spark;

import ai.medqa.MedQA;
import ai.medqa.chat.Conversation;
import ai.medqa.eval.Prompts;
import ai.medqa.generate.BatchEngine;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.model.ContextOverflowException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
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
 * Adds the model's answer to each question of a DataFrame, in the model's chat format: the system
 * prompt (a column, else the {@code systemPrompt} parameter, MedQA's medical-assistant prompt unless
 * set; empty for none), then the question, after the context when a context column is set. Each
 * executor JVM loads the model once and its task threads share it; a partition's rows are submitted
 * {@code batchSize} at a time to the JVM's batching engine, where they decode together with other
 * tasks' rows. A null question gets a null answer.
 *
 * <pre>{@code
 * Dataset<Row> answered = new QuestionAnswerer().setModelDir("/models/Mistral-7B-Instruct-v0.1")
 *         .setContextCol("abstract").setOutputCol("answer").setSeed(42).transform(questions);
 * }</pre>
 *
 * <p>With sampling, set a seed: each row then samples as it would alone, so a retried task (or another
 * partitioning) writes the same answers, up to batch rounding: rows decoded beside others can differ
 * from a single run within 1e-4 in the logits, which flips a token only where two were nearly tied.
 */
public final class QuestionAnswerer extends MedQATransformer<QuestionAnswerer> {
    private static final long serialVersionUID = 1L;
    static final String DEFAULT_TEMPLATE = "Context: {context}\n\nQuestion: {question}";

    private final Param<String> outputCol;
    private final Param<String> systemPromptCol;
    private final Param<String> systemPrompt;
    private final Param<String> template;
    private final IntParam maxNewTokens;
    private final BooleanParam doSample;
    private final DoubleParam temperature;
    private final DoubleParam topP;
    private final IntParam topK;
    private final DoubleParam repetitionPenalty;
    private final LongParam seed;

    public QuestionAnswerer() {
        this(Identifiable$.MODULE$.randomUID("medqaAnswerer"));
    }

    public QuestionAnswerer(String uid) {
        super(uid);
        outputCol = new Param<>(this, "outputCol", "answer column to add");
        systemPromptCol = new Param<>(this, "systemPromptCol", "optional string column of per-row system prompts");
        systemPrompt = new Param<>(this, "systemPrompt", "system prompt of rows without one (empty: none)");
        template = new Param<>(
                this,
                "template",
                "user turn with {question} and {context} (default: \"" + DEFAULT_TEMPLATE.replace("\n", "\\n")
                        + "\" with a context column, else \"{question}\")");
        maxNewTokens = new IntParam(this, "maxNewTokens", "new tokens at most (>= 1)");
        doSample = new BooleanParam(this, "doSample", "sample (true) or greedy decoding (false)");
        temperature = new DoubleParam(this, "temperature", "sampling temperature (>= 0)");
        topP = new DoubleParam(this, "topP", "nucleus sampling threshold in (0, 1]");
        topK = new IntParam(this, "topK", "keep the k most likely tokens (0: off)");
        repetitionPenalty = new DoubleParam(this, "repetitionPenalty", "repetition penalty (> 0, 1: off)");
        seed = new LongParam(this, "seed", "sampling seed (unset: a fresh one per row, answers not reproducible)");
        GenerationConfig d = MedQA.ASK_DEFAULTS;
        setDefault(outputCol, "answer");
        setDefault(systemPrompt, MedQA.MEDICAL_ASSISTANT_PROMPT);
        setDefault(maxNewTokens, d.maxNewTokens());
        setDefault(doSample, d.doSample());
        setDefault(temperature, d.temperature());
        setDefault(topP, d.topP());
        setDefault(topK, d.topK());
        setDefault(repetitionPenalty, d.repetitionPenalty());
    }

    public Param<String> outputCol() {
        return outputCol;
    }

    public Param<String> systemPromptCol() {
        return systemPromptCol;
    }

    public Param<String> systemPrompt() {
        return systemPrompt;
    }

    public Param<String> template() {
        return template;
    }

    public IntParam maxNewTokens() {
        return maxNewTokens;
    }

    public BooleanParam doSample() {
        return doSample;
    }

    public DoubleParam temperature() {
        return temperature;
    }

    public DoubleParam topP() {
        return topP;
    }

    public IntParam topK() {
        return topK;
    }

    public DoubleParam repetitionPenalty() {
        return repetitionPenalty;
    }

    public LongParam seed() {
        return seed;
    }

    public QuestionAnswerer setOutputCol(String value) {
        set(outputCol, value);
        return this;
    }

    public QuestionAnswerer setSystemPromptCol(String value) {
        set(systemPromptCol, value);
        return this;
    }

    public QuestionAnswerer setSystemPrompt(String value) {
        set(systemPrompt, value);
        return this;
    }

    public QuestionAnswerer setTemplate(String value) {
        Prompts.check(value, "template");
        set(template, value);
        return this;
    }

    /** All generation settings at once (stop strings and end-of-sequence overrides are not parameters). */
    public QuestionAnswerer setGeneration(GenerationConfig g) {
        set(maxNewTokens, g.maxNewTokens());
        set(doSample, g.doSample());
        set(temperature, g.temperature());
        set(topP, g.topP());
        set(topK, g.topK());
        set(repetitionPenalty, g.repetitionPenalty());
        if (g.seed().isPresent()) {
            set(seed, g.seed().getAsLong());
        } else {
            clear(seed);
        }
        return this;
    }

    public QuestionAnswerer setMaxNewTokens(int value) {
        set(maxNewTokens, value);
        return this;
    }

    public QuestionAnswerer setDoSample(boolean value) {
        set(doSample, value);
        return this;
    }

    public QuestionAnswerer setTemperature(double value) {
        set(temperature, value);
        return this;
    }

    public QuestionAnswerer setTopP(double value) {
        set(topP, value);
        return this;
    }

    public QuestionAnswerer setSeed(long value) {
        set(seed, value);
        return this;
    }

    /** The generation settings of the parameters (checked as {@link GenerationConfig} checks them). */
    GenerationConfig generation() {
        GenerationConfig.Builder b = GenerationConfig.builder()
                .maxNewTokens((Integer) getOrDefault(maxNewTokens))
                .doSample((Boolean) getOrDefault(doSample))
                .temperature((Double) getOrDefault(temperature))
                .topP((Double) getOrDefault(topP))
                .topK((Integer) getOrDefault(topK))
                .repetitionPenalty((Double) getOrDefault(repetitionPenalty));
        if (isDefined(seed)) {
            b.seed((Long) getOrDefault(seed));
        }
        return b.build();
    }

    @Override
    public StructType transformSchema(StructType schema) {
        questionIndex(schema);
        contextIndex(schema);
        if (isDefined(systemPromptCol)) {
            index(schema, getOrDefault(systemPromptCol), "systemPromptCol", DataTypes.StringType);
        }
        return append(
                schema, "outputCol", DataTypes.createStructField(getOrDefault(outputCol), DataTypes.StringType, true));
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType schema = dataset.schema();
        StructType out = transformSchema(schema);
        GenerationConfig g = generation();
        String system = getOrDefault(systemPrompt);
        Job job = new Job(
                modelSpec(),
                adapterOrNull(),
                batch(),
                SamplingSpec.of(g),
                questionIndex(schema),
                contextIndex(schema),
                isDefined(systemPromptCol) ? schema.fieldIndex(getOrDefault(systemPromptCol)) : -1,
                system.isEmpty() ? null : system,
                isDefined(template) ? getOrDefault(template) : null);
        ExecutorModels.closeWhenStopped(dataset.sparkSession().sparkContext());
        return dataset.toDF().mapPartitions(job, Encoders.row(out));
    }

    @Override
    public QuestionAnswerer copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /** What each task needs, without the transformer (its parameters stay on the driver). */
    private record Job(
            ModelSpec spec,
            String adapter,
            int batchSize,
            SamplingSpec sampling,
            int question,
            int context,
            int systemPromptColumn,
            String systemPrompt,
            String template)
            implements MapPartitionsFunction<Row, Row>, Serializable {
        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            GenerationConfig g = sampling.toConfig();
            return Batches.lazily(rows, batchSize, r -> Boolean.TRUE, batch -> answer(batch, g));
        }

        /**
         * Prompts are built under a lease; the rows then go to the JVM's batching engine, where they
         * decode together with other task threads' rows (of any adapter), each sampling as it would alone.
         */
        private List<Row> answer(List<Row> batch, GenerationConfig g) {
            List<BatchEngine.Request> requests = new ArrayList<>();
            try {
                try (ExecutorModels.Lease lease = ExecutorModels.acquire(spec, adapter)) {
                    MedQA medqa = lease.medqa();
                    BatchEngine engine = lease.engine();
                    for (Row row : batch) {
                        if (!row.isNullAt(question)) {
                            String system = systemPromptColumn >= 0 && !row.isNullAt(systemPromptColumn)
                                    ? row.getString(systemPromptColumn)
                                    : systemPrompt;
                            int[] ids = prompt(medqa, system, row.getString(question), sections(row, context), g);
                            requests.add(engine.submit(ids, g, adapter, null));
                        }
                    }
                }
                List<Row> out = new ArrayList<>(batch.size());
                int k = 0;
                for (Row row : batch) {
                    Object[] v = values(row, 1);
                    v[v.length - 1] = row.isNullAt(question)
                            ? null
                            : requests.get(k++).result().get().text();
                    out.add(RowFactory.create(v));
                }
                return out;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // Spark killed the task
                throw new IllegalStateException("interrupted while answering", e);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            } finally {
                // A failed task's rows stop decoding (a no-op for those that finished).
                requests.forEach(BatchEngine.Request::cancel);
            }
        }

        /** The chat prompt; context sections that do not fit are left out from the end, never the question. */
        private int[] prompt(MedQA medqa, String system, String q, List<String> contexts, GenerationConfig g) {
            String t = template != null ? template : context >= 0 ? DEFAULT_TEMPLATE : "{question}";
            int sections = contexts.size();
            while (true) {
                String user = Prompts.render(t, q, String.join("\n", contexts.subList(0, sections)));
                Conversation c = system == null ? new Conversation() : new Conversation(system);
                try {
                    return medqa.chatPromptIds(c.addUser(user), g);
                } catch (ContextOverflowException e) {
                    if (sections == 0) {
                        throw e;
                    }
                    sections--;
                }
            }
        }
    }
}
