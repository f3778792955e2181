package ai.medqa.metrics.bertscore;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Test resources under {@code bertscore/} (see PROVENANCE.md there). */
final class TestData {
    private TestData() {}

    record Pair(String pmid, String conclusion, String longAnswer) {}

    static List<String> sentences() {
        return List.of(text("pubmedqa_sentences.txt").split("\n"));
    }

    static List<Pair> pairs() {
        ObjectMapper mapper = Json.MAPPER;
        List<Pair> out = new ArrayList<>();
        try {
            for (String line : text("pubmedqa_pairs.jsonl").split("\n")) {
                JsonNode j = mapper.readTree(line);
                out.add(new Pair(
                        j.get("pmid").asText(),
                        j.get("conclusion").asText(),
                        j.get("long_answer").asText()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    static String text(String name) {
        try (InputStream in = TestData.class.getResourceAsStream("/bertscore/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
