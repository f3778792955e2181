package ai.medqa.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** golden.json of a fixture model (schema in src/test/resources/fixtures/README.md). */
record Golden(List<Case> cases) {

    record Case(int[] prompt, float[][] promptLogits, int[] greedy, float[][] greedyTop2) {}

    static Path fixture(String relative) {
        try {
            return Path.of(Golden.class.getResource("/fixtures/" + relative).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test resource fixtures/" + relative, e);
        }
    }

    static Golden read(Path file) {
        try {
            JsonNode root = new ObjectMapper().readTree(file.toFile());
            List<Case> cases = new ArrayList<>();
            for (JsonNode c : root.get("cases")) {
                cases.add(new Case(ints(c.get("prompt")), floats2(c.get("prompt_logits")), ints(c.get("greedy")),
                        floats2(c.get("greedy_top2"))));
            }
            return new Golden(cases);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asInt();
        }
        return r;
    }

    private static float[][] floats2(JsonNode a) {
        float[][] r = new float[a.size()][];
        for (int i = 0; i < r.length; i++) {
            JsonNode row = a.get(i);
            r[i] = new float[row.size()];
            for (int j = 0; j < r[i].length; j++) {
                // Shortest repr of a float32: parsing as float gives back the exact value.
                r[i][j] = Float.parseFloat(row.get(j).asText());
            }
        }
        return r;
    }
}
