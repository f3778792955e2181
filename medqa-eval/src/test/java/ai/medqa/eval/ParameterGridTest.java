package ai.medqa.eval;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.MedQA;
import ai.medqa.common.Json;
import ai.medqa.generate.GenerationConfig;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ParameterGridTest {

    @Test
    void runsEverySettingOnEveryQuestion(@TempDir Path dir) throws Exception {
        try (MedQA medqa =
                MedQA.builder().model(TinyModel.write(dir.resolve("m"))).build()) {
            GenerationConfig base = GenerationConfig.sampling().toBuilder()
                    .maxNewTokens(8)
                    .seed(3)
                    .build();
            List<GenerationConfig> grid = ParameterGrid.product(
                    base, new double[] {0.3, 0.7}, new double[] {0.8, 0.95}, new double[] {1.0, 1.2});
            assertThat(grid).hasSize(8);
            assertThat(grid.get(5).temperature()).isEqualTo(0.7);
            assertThat(grid.get(5).topP()).isEqualTo(0.8);
            assertThat(grid.get(5).repetitionPenalty()).isEqualTo(1.2);
            List<ParameterGrid.Question> questions = List.of(
                    new ParameterGrid.Question("q1", "Is aspirin an NSAID?", "yes"),
                    new ParameterGrid.Question("q2", "Does metformin cause lactic acidosis?", "rarely"));
            List<ParameterGrid.Row> rows = ParameterGrid.run(questions, grid, medqa::generate);
            assertThat(rows).hasSize(16);
            for (ParameterGrid.Row row : rows) {
                assertThat(row.answer())
                        .isEqualTo(medqa.generate(row.question().question(), row.config())
                                .text());
            }
            Path file = dir.resolve("grid.jsonl");
            ParameterGrid.writeJsonl(file, rows);
            List<String> lines = Files.readAllLines(file);
            assertThat(lines).hasSize(16);
            JsonNode first = Json.MAPPER.readTree(lines.get(1));
            assertThat(first.get("temperature").asDouble()).isEqualTo(0.3);
            assertThat(first.get("id").asText()).isEqualTo("q2");
            assertThat(first.get("reference").asText()).isEqualTo("rarely");
            assertThat(first.get("candidate").asText()).isEqualTo(rows.get(1).answer());
        }
    }
}
