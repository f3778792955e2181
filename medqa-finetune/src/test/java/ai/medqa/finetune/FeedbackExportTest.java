package ai.medqa.finetune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Votes and pairs as medqa serve writes them, exported in TRL's KTO, DPO and SFT formats. */
class FeedbackExportTest {
    @TempDir
    Path dir;

    static ObjectNode completion(String id, String model, String question, String answer, String finish) {
        ObjectNode c = Json.MAPPER.createObjectNode().put("id", id).put("model", model);
        c.putArray("messages").addObject().put("role", "user").put("content", question);
        c.putObject("settings").put("temperature", 0.7).put("seed", 1);
        return c.put("completion", answer).put("finish_reason", finish);
    }

    static String vote(String v, ObjectNode completion) {
        ObjectNode line = Json.MAPPER
                .createObjectNode()
                .put("time", "t")
                .put("type", "vote")
                .put("vote", v);
        line.set("completion", completion);
        return line.toString();
    }

    static String pair(ObjectNode chosen, ObjectNode rejected) {
        ObjectNode line = Json.MAPPER.createObjectNode().put("time", "t").put("type", "pair");
        line.set("chosen", chosen);
        line.set("rejected", rejected);
        return line.toString();
    }

    Path votes() throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add(vote("like", completion("a", "pubmed", "Is aspirin an NSAID?", "Yes.", "stop")));
        lines.add(vote("dislike", completion("b", "pubmed", "Is insulin a hormone?", "No.", "stop")));
        lines.add(vote("dislike", completion("a", "pubmed", "Is aspirin an NSAID?", "Yes.", "stop"))); // changed mind
        lines.add(vote("like", completion("c", "pubmed", "What is heparin?", "An anti", "cancelled")));
        lines.add(pair(
                completion("e", "pubmed", "Q?", "Bad.", "stop"), completion("d", "pubmed", "Q?", "Good.", "stop")));
        lines.add(pair(
                completion("d", "pubmed", "Q?", "Good.", "stop"), completion("e", "pubmed", "Q?", "Bad.", "stop")));
        lines.add(pair(
                completion("f", "pubmed", "Q?", "Cut", "length"), completion("d", "pubmed", "Q?", "Good.", "stop")));
        lines.add("{\"vote\": \"like\", \"answer\": \"old\", \"conversation\": []}");
        lines.add("");
        return Files.write(dir.resolve("votes.jsonl"), lines);
    }

    static List<JsonNode> read(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            out.add(Json.MAPPER.readTree(line));
        }
        return out;
    }

    @Test
    void kto_dpo_and_sft_in_trls_conversational_formats() throws IOException {
        Path votes = votes();
        FeedbackExport.Summary kto =
                FeedbackExport.export(votes, FeedbackExport.Format.KTO, null, dir.resolve("kto.jsonl"));
        assertThat(kto.examples()).isEqualTo(2);
        assertThat(kto.model()).isEqualTo("pubmed");
        assertThat(kto.dropped())
                .containsEntry("answers stopped before their end", 1)
                .containsEntry("old-format vote without its completion record", 1)
                .containsEntry("pairs (kto takes votes)", 2);
        List<JsonNode> k = read(dir.resolve("kto.jsonl"));
        // The last vote on "a" wins (a dislike), in the order of last votes.
        assertThat(k.get(0).at("/prompt/0/content").asText()).isEqualTo("Is insulin a hormone?");
        assertThat(k.get(1).at("/prompt/0/role").asText()).isEqualTo("user");
        assertThat(k.get(1).at("/completion/0/role").asText()).isEqualTo("assistant");
        assertThat(k.get(1).at("/completion/0/content").asText()).isEqualTo("Yes.");
        assertThat(k.get(1).get("label").asBoolean()).isFalse();
        assertThat(k.get(1).fieldNames()).toIterable().containsExactly("prompt", "completion", "label");

        // The user changed their pick between d and e: the last one wins; the pair with a cut answer is dropped.
        FeedbackExport.Summary dpo =
                FeedbackExport.export(votes, FeedbackExport.Format.DPO, null, dir.resolve("dpo.jsonl"));
        assertThat(dpo.dropped()).containsEntry("answers cut at max_tokens (keep them with --keep-truncated)", 1);
        List<JsonNode> d = read(dir.resolve("dpo.jsonl"));
        assertThat(d).hasSize(1);
        assertThat(d.get(0).fieldNames()).toIterable().containsExactly("prompt", "chosen", "rejected");
        assertThat(d.get(0).at("/chosen/0/content").asText()).isEqualTo("Good.");
        assertThat(d.get(0).at("/rejected/0/content").asText()).isEqualTo("Bad.");

        // SFT keeps liked, finished answers only: here none is left ("a" became a dislike, "c" was stopped).
        assertThatThrownBy(
                        () -> FeedbackExport.export(votes, FeedbackExport.Format.SFT, null, dir.resolve("sft.jsonl")))
                .hasMessageContaining("nothing to export")
                .hasMessageContaining("dislikes (sft keeps liked answers)=2")
                .hasMessageContaining("not written");
        assertThat(dir.resolve("sft.jsonl")).doesNotExist();
    }

    @Test
    void severalModelsAreKeptApartAndMalformedLinesNamed() throws IOException {
        Path votes = Files.write(
                dir.resolve("mixed.jsonl"),
                List.of(
                        vote("like", completion("a", "pubmed", "Q1?", "A1", "stop")),
                        vote("like", completion("b", "base", "Q2?", "A2", "stop"))));
        assertThatThrownBy(() -> FeedbackExport.export(votes, FeedbackExport.Format.KTO, null, dir.resolve("x.jsonl")))
                .hasMessageContaining("several models {base=1, pubmed=1}")
                .hasMessageContaining("--model");
        FeedbackExport.Summary s =
                FeedbackExport.export(votes, FeedbackExport.Format.SFT, "base", dir.resolve("base.jsonl"));
        assertThat(s.examples()).isEqualTo(1);
        assertThat(read(dir.resolve("base.jsonl"))
                        .get(0)
                        .at("/messages/1/content")
                        .asText())
                .isEqualTo("A2");

        Path bad = Files.write(
                dir.resolve("bad.jsonl"),
                List.of(
                        vote("like", completion("a", "m", "Q", "A", "stop")),
                        "{\"type\": \"vote\", \"vote\": \"like\", \"completion\": {\"id\": 5}}"));
        assertThatThrownBy(() -> FeedbackExport.export(bad, FeedbackExport.Format.KTO, null, dir.resolve("y.jsonl")))
                .hasMessageContaining("bad.jsonl: line 2: completion must be a completion record");
        Files.writeString(bad, "not json\n");
        assertThatThrownBy(() -> FeedbackExport.export(bad, FeedbackExport.Format.KTO, null, dir.resolve("y.jsonl")))
                .hasMessageContaining("bad.jsonl: line 1");
        assertThat(dir.resolve("y.jsonl")).doesNotExist();
    }
}
