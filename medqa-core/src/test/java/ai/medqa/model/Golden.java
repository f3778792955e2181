package ai.medqa.model;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
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
            JsonNode root = Json.MAPPER.readTree(file.toFile());
            List<Case> cases = new ArrayList<>();
            for (JsonNode c : root.get("cases")) {
                cases.add(new Case(
                        Logits.ints(c.get("prompt")),
                        Logits.floats2(c.get("prompt_logits")),
                        Logits.ints(c.get("greedy")),
                        Logits.floats2(c.get("greedy_top2"))));
            }
            return new Golden(cases);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
