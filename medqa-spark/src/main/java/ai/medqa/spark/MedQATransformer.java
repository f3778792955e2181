package ai.medqa.spark;

import ai.medqa.quant.LmHead;
import ai.medqa.quant.Quantization;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * What the MedQA transformers share: the model every executor loads once ({@link ModelSpec} as
 * parameters), the adapter to use and the question column.
 */
public abstract class MedQATransformer<T extends MedQATransformer<T>> extends Transformer {
    private static final long serialVersionUID = 1L;

    private final String uid;
    private final Param<String> modelDir;
    private final Param<String> device;
    private final Param<String> precision;
    private final Param<String> quantize;
    private final StringArrayParam loras;
    private final Param<String> adapter;
    private final Param<String> questionCol;
    private final Param<String> contextCol;
    private final IntParam batchSize;

    MedQATransformer(String uid) {
        this.uid = uid;
        modelDir = new Param<>(this, "modelDir", "Hugging Face model folder, at a path every executor can read");
        device = new Param<>(this, "device", "cpu, cuda or cuda:N");
        precision = new Param<>(this, "precision", "F32, F16 or BF16");
        quantize = new Param<>(this, "quantize", "none, int4, int8 or nf4 (on load)");
        loras = new StringArrayParam(this, "loras", "LoRA adapters to load, as NAME=DIR");
        adapter = new Param<>(this, "adapter", "name of the LoRA adapter to apply (unset: none)");
        questionCol = new Param<>(this, "questionCol", "string column of questions");
        contextCol = new Param<>(
                this,
                "contextCol",
                "optional column of context: a string or an array of strings "
                        + "(sections; the last ones are left out when the prompt does not fit)");
        batchSize = new IntParam(this, "batchSize", "rows of a partition computed together (>= 1)");
        setDefault(device, "cpu");
        setDefault(precision, "F32");
        setDefault(quantize, "none");
        setDefault(loras, new String[0]);
        setDefault(questionCol, "question");
        setDefault(batchSize, 8);
    }

    @SuppressWarnings("unchecked")
    private T self() {
        return (T) this;
    }

    @Override
    public String uid() {
        return uid;
    }

    public Param<String> modelDir() {
        return modelDir;
    }

    public Param<String> device() {
        return device;
    }

    public Param<String> precision() {
        return precision;
    }

    public Param<String> quantize() {
        return quantize;
    }

    public StringArrayParam loras() {
        return loras;
    }

    public Param<String> adapter() {
        return adapter;
    }

    public Param<String> questionCol() {
        return questionCol;
    }

    public Param<String> contextCol() {
        return contextCol;
    }

    public IntParam batchSize() {
        return batchSize;
    }

    /** The model's folder, the format and the adapters of {@code spec}. */
    public T setModel(ModelSpec spec) {
        set(modelDir, spec.modelDir());
        set(device, spec.device());
        set(precision, spec.precision().name());
        set(quantize, spec.quantization().name().toLowerCase(Locale.ROOT));
        List<String> l = new ArrayList<>();
        spec.loras().forEach((n, d) -> l.add(n + "=" + d));
        set(loras, l.toArray(new String[0]));
        return self();
    }

    public T setModelDir(String value) {
        set(modelDir, value);
        return self();
    }

    public T setAdapter(String value) {
        set(adapter, value);
        return self();
    }

    public T setQuestionCol(String value) {
        set(questionCol, value);
        return self();
    }

    public T setContextCol(String value) {
        set(contextCol, value);
        return self();
    }

    public T setBatchSize(int value) {
        if (value < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + value);
        }
        set(batchSize, value);
        return self();
    }

    /** The model these parameters describe. */
    ModelSpec modelSpec() {
        if (!isDefined(modelDir)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": modelDir is not set");
        }
        ModelSpec spec = ModelSpec.of(getOrDefault(modelDir))
                .withDevice(getOrDefault(device))
                .withPrecision(ModelSpec.precision(getOrDefault(precision)))
                .withQuantization(Quantization.parse(getOrDefault(quantize)), 64, LmHead.COMPUTE);
        for (String l : getOrDefault(loras)) {
            int eq = l.indexOf('=');
            if (eq <= 0 || eq == l.length() - 1) {
                throw new IllegalArgumentException("loras: \"" + l + "\" is not NAME=DIR");
            }
            spec = spec.withLora(l.substring(0, eq), l.substring(eq + 1));
        }
        return spec;
    }

    String adapterOrNull() {
        return isDefined(adapter) ? getOrDefault(adapter) : null;
    }

    int batch() {
        return (Integer) getOrDefault(batchSize);
    }

    /** Index of the question column, which must be a string. */
    int questionIndex(StructType schema) {
        return index(schema, getOrDefault(questionCol), "questionCol", DataTypes.StringType);
    }

    /** Index of the context column (string or array of strings), -1 when none is set. */
    int contextIndex(StructType schema) {
        if (!isDefined(contextCol)) {
            return -1;
        }
        String name = getOrDefault(contextCol);
        int i = index(schema, name, "contextCol", null);
        DataType t = schema.fields()[i].dataType();
        if (!t.equals(DataTypes.StringType)
                && !(t instanceof ArrayType a && a.elementType().equals(DataTypes.StringType))) {
            throw new IllegalArgumentException("contextCol: column \"" + name + "\" is " + t.simpleString()
                    + "; expected string or array<string>");
        }
        return i;
    }

    /** The column's index, checked to exist (and to be of {@code type} when not null), naming it otherwise. */
    static int index(StructType schema, String name, String param, DataType type) {
        List<String> names = List.of(schema.fieldNames());
        int i = names.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException(param + ": no column \"" + name + "\" (columns: " + names + ")");
        }
        DataType t = schema.fields()[i].dataType();
        if (type != null && !t.equals(type)) {
            throw new IllegalArgumentException(
                    param + ": column \"" + name + "\" is " + t.simpleString() + "; expected " + type.simpleString());
        }
        return i;
    }

    /** {@code schema} plus {@code added}, refusing a name already there. */
    static StructType append(StructType schema, String param, StructField added) {
        if (List.of(schema.fieldNames()).contains(added.name())) {
            throw new IllegalArgumentException(param + ": column \"" + added.name() + "\" already exists");
        }
        return schema.add(added);
    }

    /** A context cell as sections: a string is one section; null is none. */
    static List<String> sections(Row row, int index) {
        if (index < 0 || row.isNullAt(index)) {
            return List.of();
        }
        Object v = row.get(index);
        if (v instanceof String s) {
            return List.of(s);
        }
        List<String> out = new ArrayList<>();
        for (Object o : row.getList(index)) {
            if (o != null) {
                out.add((String) o);
            }
        }
        return out;
    }

    static Object[] values(Row row, int extra) {
        Object[] v = new Object[row.length() + extra];
        for (int i = 0; i < row.length(); i++) {
            v[i] = row.get(i);
        }
        return v;
    }
}
