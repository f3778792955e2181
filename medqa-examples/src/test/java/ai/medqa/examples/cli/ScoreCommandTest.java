package ai.medqa.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** End to end: golden pairs in, the golden metric values (nltk, rouge-score) out. */
class ScoreCommandTest {
    private static final ObjectMapper JSON = Json.MAPPER;

    private static List<ObjectNode> golden() throws IOException {
        List<ObjectNode> rows = new ArrayList<>();
        try (InputStream in = ScoreCommandTest.class.getResourceAsStream("/score_pairs.jsonl")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) {
                    rows.add((ObjectNode) JSON.readTree(line));
                }
            }
        }
        return rows;
    }

    private record Run(int code, String stderr) {}

    private static Run run(String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ScoreCommand cmd = new ScoreCommand();
        cmd.err = new PrintStream(err, true, StandardCharsets.UTF_8);
        // The command is registered under the top-level CLI.
        assertThat(new CommandLine(new Medqa()).getSubcommands()).containsKey("score");
        CommandLine sub = new CommandLine(cmd);
        StringWriter picoErr = new StringWriter();
        sub.setErr(new PrintWriter(picoErr));
        int code = sub.execute(args);
        return new Run(code, err.toString(StandardCharsets.UTF_8) + picoErr);
    }

    @Test
    void scoresGoldenPairsAndKeepsOtherFields(@TempDir Path dir) throws IOException {
        List<ObjectNode> golden = golden();
        Path in = dir.resolve("pairs.jsonl");
        StringBuilder sb = new StringBuilder();
        for (ObjectNode g : golden) {
            ObjectNode rec = JSON.createObjectNode();
            rec.set("id", g.has("pmid") ? g.get("pmid") : g.get("id"));
            rec.put("model", "baseline");
            rec.set("candidate", g.get("candidate"));
            rec.set("reference", g.get("reference"));
            sb.append(JSON.writeValueAsString(rec)).append('\n');
        }
        Files.writeString(in, sb.toString());
        Path out = dir.resolve("scores.jsonl");
        Run r = run("--in", in.toString(), "--out", out.toString());
        assertThat(r.code()).as(r.stderr()).isZero();
        assertThat(r.stderr()).contains("scored 7 pairs").contains("rougeL_f").contains("95% CI");
        List<String> lines = Files.readAllLines(out);
        assertThat(lines).hasSize(golden.size());
        int compared = 0;
        for (int i = 0; i < lines.size(); i++) {
            JsonNode got = JSON.readTree(lines.get(i));
            assertThat(got.get("model").asText()).isEqualTo("baseline");
            Iterator<String> names = golden.get(i).fieldNames();
            while (names.hasNext()) {
                String f = names.next();
                if (f.startsWith("bleu_") || f.startsWith("rouge") || f.endsWith("_f1")) {
                    assertThat(got.get(f).asDouble())
                            .as("line %d %s", i, f)
                            .isCloseTo(golden.get(i).get(f).asDouble(), within(1e-9));
                    compared++;
                }
            }
        }
        assertThat(compared).isEqualTo(7 * 30);
    }

    @Test
    void referenceListAndMalformedLine(@TempDir Path dir) throws IOException {
        Path in = dir.resolve("pairs.jsonl");
        Files.writeString(in, "{\"candidate\": \"the cat sat\", \"reference\": [\"a dog sat\", \"the cat sat\"]}\n");
        Path out = dir.resolve("s.jsonl");
        assertThat(run("--in", in.toString(), "--out", out.toString()).code()).isZero();
        JsonNode got = JSON.readTree(Files.readAllLines(out).get(0));
        assertThat(got.get("squad_f1").asDouble()).isEqualTo(1.0);
        assertThat(got.get("rougeL_f").asDouble()).isEqualTo(1.0);

        Files.writeString(in, "{\"candidate\": \"x\", \"reference\": \"x\"}\n{\"candidate\": \"x\"}\n");
        Files.writeString(out, "previous");
        Run bad = run("--in", in.toString(), "--out", out.toString());
        assertThat(bad.code()).isNotZero();
        assertThat(bad.stderr()).contains("line 2").contains("reference");
        assertThat(Files.readString(out)).as("output untouched on failure").isEqualTo("previous");
    }

    @Test
    void bertScoreIsAddedWithTheBundledEncoder(@TempDir Path dir) throws IOException {
        List<ObjectNode> golden = golden().subList(0, 3);
        Path in = dir.resolve("pairs.jsonl");
        StringBuilder sb = new StringBuilder();
        for (ObjectNode g : golden) {
            sb.append(JSON.writeValueAsString(JSON.createObjectNode()
                            .put("candidate", g.get("candidate").asText())
                            .put("reference", g.get("reference").asText())))
                    .append('\n');
        }
        // A candidate scored against itself: BERTScore 1 by definition.
        sb.append(
                "{\"candidate\":\"Aspirin inhibits platelet aggregation.\",\"reference\":\"Aspirin inhibits platelet aggregation.\"}\n");
        Files.writeString(in, sb.toString());
        Path out = dir.resolve("scores.jsonl");
        assertThat(run("--in", in.toString(), "--out", out.toString(), "--bertscore")
                        .code())
                .isZero();
        List<String> lines = Files.readAllLines(out);
        assertThat(lines).hasSize(4);
        ai.medqa.metrics.bertscore.BertScore.Score expected;
        try (var enc = ai.medqa.metrics.bertscore.BertEncoder.miniLm()) {
            expected = ai.medqa.metrics.bertscore.BertScore.builder(enc)
                    .build()
                    .score(
                            golden.get(1).get("candidate").asText(),
                            golden.get(1).get("reference").asText());
        }
        JsonNode second = JSON.readTree(lines.get(1));
        assertThat(second.get("bertscore_f").asDouble()).isCloseTo(expected.f1(), within(1e-6));
        assertThat(second.get("bertscore_p").asDouble()).isCloseTo(expected.precision(), within(1e-6));
        assertThat(second.has("rougeL_f")).isTrue();
        assertThat(JSON.readTree(lines.get(3)).get("bertscore_f").asDouble()).isCloseTo(1.0, within(1e-5));
    }
}
