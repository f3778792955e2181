package ai.medqa.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** In local[2] (one JVM, two task threads) the model loads once for all tasks and closes when the session stops. */
class SparkModelLifecycleTest {
    @Test
    void oneLoadForAllTasksClosedWhenTheSessionStops(@TempDir Path dir) {
        String model = TinyModel.write(dir.resolve("model")).toString();
        ExecutorModels.closeAll();
        int loads = ExecutorModels.loads();
        int closes = ExecutorModels.closes();
        SparkSession spark = SparkSession.builder()
                .master("local[2]")
                .appName("medqa-lifecycle")
                .config("spark.ui.enabled", false)
                .getOrCreate();
        Set<String> threads = ConcurrentHashMap.newKeySet();
        try {
            List<Row> rows = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                rows.add(RowFactory.create("Is question " + i + " answerable?"));
            }
            List<Row> scored = new PubMedQaScorer()
                    .setModelDir(model)
                    .setBatchSize(1)
                    .transform(spark.createDataFrame(rows, new StructType().add("question", DataTypes.StringType))
                            .repartition(8))
                    .collectAsList();
            assertThat(scored).hasSize(16);
            List<String> seen = spark.createDataFrame(rows, new StructType().add("question", DataTypes.StringType))
                    .repartition(8)
                    .mapPartitions(
                            (org.apache.spark.api.java.function.MapPartitionsFunction<Row, String>) it -> {
                                try (ExecutorModels.Lease l = ExecutorModels.acquire(ModelSpec.of(model), null)) {
                                    return List.of(Thread.currentThread().getName())
                                            .iterator();
                                }
                            },
                            org.apache.spark.sql.Encoders.STRING())
                    .collectAsList();
            threads.addAll(seen);
            assertThat(ExecutorModels.loads() - loads).isEqualTo(1);
            assertThat(ExecutorModels.open()).isEqualTo(1);
        } finally {
            spark.stop();
        }
        assertThat(threads).hasSizeGreaterThanOrEqualTo(1);
        assertThat(ExecutorModels.open()).isZero();
        assertThat(ExecutorModels.closes() - closes).isEqualTo(1);
    }
}
