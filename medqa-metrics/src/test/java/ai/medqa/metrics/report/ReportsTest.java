package ai.medqa.metrics.report;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.metrics.Golden;
import ai.medqa.metrics.lexical.PairScorer;
import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportsTest {
    /** The first 20 golden pairs, scored by our code, as an evaluation. */
    static EvaluationResult sample() {
        PairScorer scorer = new PairScorer();
        List<EvaluationResult.Row> rows = new ArrayList<>();
        for (JsonNode g : Golden.jsonl("golden/metrics_pubmedqa_shared.jsonl").subList(0, 20)) {
            Map<String, String> fields = new LinkedHashMap<>();
            fields.put("candidate", g.get("candidate").asText());
            fields.put("reference", g.get("reference").asText());
            Map<String, Double> all = scorer.score(fields.get("candidate"), fields.get("reference"));
            Map<String, Double> metrics = new LinkedHashMap<>();
            for (String m : List.of("squad_f1", "bleu_m1", "rougeL_f")) {
                metrics.put(m, all.get(m));
            }
            rows.add(new EvaluationResult.Row(g.get("pmid").asText(), fields, metrics));
        }
        return EvaluationResult.of("PubMedQA last-sentence baseline", rows, 7);
    }

    @Test
    void jsonCsvAndMarkdownAreWrittenAtomicallyAndRoundTrip(@TempDir Path dir) throws IOException {
        EvaluationResult r = sample();
        Path json = dir.resolve("out/report.json");
        Files.createDirectories(json.getParent());
        Files.writeString(json, "old content");
        Reports.writeJson(r, json);
        JsonNode back = Golden.JSON.readTree(json.toFile());
        assertThat(back.get("rows")).hasSize(20);
        assertThat(back.get("aggregates").get("squad_f1").get("mean").asDouble())
                .isEqualTo(r.aggregates().get("squad_f1").mean());
        double mean = r.rows().stream()
                .mapToDouble(x -> x.metrics().get("squad_f1"))
                .average()
                .orElseThrow();
        assertThat(r.aggregates().get("squad_f1").mean())
                .isCloseTo(mean, org.assertj.core.api.Assertions.within(1e-12));
        assertThat(back.get("rows").get(0).get("candidate").asText())
                .isEqualTo(r.rows().get(0).fields().get("candidate"));

        Path csv = dir.resolve("out/report.csv");
        Reports.writeCsv(r, csv);
        List<String> lines = Files.readAllLines(csv);
        assertThat(lines.get(0)).isEqualTo("id,candidate,reference,squad_f1,bleu_m1,rougeL_f");
        assertThat(lines).hasSize(21);

        Path md = dir.resolve("out/report.md");
        Reports.writeMarkdown(r, md);
        assertThat(Files.readString(md)).contains("| squad_f1 | 20 |").contains("## Per sample");
        try (Stream<Path> s = Files.list(dir.resolve("out"))) {
            assertThat(s.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("report.json", "report.csv", "report.md");
        }
    }

    @Test
    void chartIsAPngOfTheRequestedSize(@TempDir Path dir) throws IOException {
        Path png = dir.resolve("chart.png");
        ScoreChart.writePng(sample(), List.of("squad_f1", "rougeL_f"), 900, 480, png);
        assertThat(png).exists();
        byte[] head = java.util.Arrays.copyOf(Files.readAllBytes(png), 8);
        assertThat(head).containsExactly(0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A);
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(900);
        assertThat(img.getHeight()).isEqualTo(480);
        // Not blank: bars in the first series' colour are drawn.
        int blue = 0;
        for (int x = 0; x < img.getWidth(); x++) {
            for (int y = 0; y < img.getHeight(); y++) {
                if ((img.getRGB(x, y) & 0xFFFFFF) == 0x1f77b4) {
                    blue++;
                }
            }
        }
        assertThat(blue).isGreaterThan(500);
        String keep = System.getenv("MEDQA_CHART_OUT");
        if (keep != null) {
            Files.copy(png, Path.of(keep), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
