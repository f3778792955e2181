package ai.medqa.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.MedQA;
import ai.medqa.common.Json;
import ai.medqa.finetune.FeedbackExport;
import ai.medqa.finetune.FineTune;
import ai.medqa.finetune.FineTuneResult;
import ai.medqa.io.DType;
import ai.medqa.lora.LoraConfig;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.server.MedQAServer;
import ai.medqa.server.ServerOptions;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole loop over real HTTP: completions from medqa serve, votes and a pair on them, the votes
 * exported for KTO and DPO, a few steps of each, the DPO adapter loaded into the running server, a
 * request naming it answering differently from the base, and its removal while a long stream of it
 * runs, which lets the stream finish.
 */
class FeedbackLoopTest {
    static final HttpClient client =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    Path dir;

    static JsonNode post(MedQAServer s, String path, String body) throws Exception {
        HttpResponse<String> r = client.send(
                HttpRequest.newBuilder(URI.create(s.url() + path))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
        return Json.MAPPER.readTree(r.body());
    }

    static String ask(MedQAServer s, String model, String question, long seed, double temperature) throws Exception {
        return post(
                        s,
                        "/v1/chat/completions",
                        "{\"model\": \"" + model + "\", \"temperature\": " + temperature
                                + ", \"seed\": " + seed
                                + ", \"max_tokens\": 8, \"messages\": [{\"role\": \"user\", \"content\": \""
                                + question + "\"}]}")
                .toString();
    }

    @Test
    void votesBecomeAnAdapterThatServesWithoutARestart() throws Exception {
        Path model = dir.resolve("model");
        RandomCheckpoint.write(model, RandomCheckpoint.config(32, 64, 2, 4, 2, 32000, 1024, 0), DType.F32, 21);
        Files.copy(
                AskChatCommandTest.TOKENIZERS.resolve("mistral-7b-v0.1/tokenizer.json"),
                model.resolve("tokenizer.json"));
        Files.copy(
                AskChatCommandTest.TOKENIZERS.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"),
                model.resolve("tokenizer_config.json"));
        Path adapters = Files.createDirectories(dir.resolve("adapters"));
        Path votes = dir.resolve("votes.jsonl");
        try (MedQA medqa = MedQA.builder().model(model).build();
                MedQAServer server = MedQAServer.start(
                        ServerOptions.defaults("base")
                                .withPort(0)
                                .withFeedback(votes)
                                .withAdaptersDir(adapters),
                        medqa)) {
            // Completions, a like or dislike on each, and pairs of two answers to the same question.
            for (int i = 0; i < 8; i++) {
                JsonNode c = Json.MAPPER.readTree(ask(server, "base", "Is drug " + i + " safe?", i, 0.9));
                post(
                        server,
                        "/v1/feedback",
                        "{\"completion_id\": \"" + c.get("id").asText() + "\", \"vote\": \""
                                + (i % 2 == 0 ? "like" : "dislike") + "\"}");
                JsonNode other = Json.MAPPER.readTree(ask(server, "base", "Is drug " + i + " safe?", 100 + i, 0.9));
                post(
                        server,
                        "/v1/feedback",
                        "{\"chosen\": \"" + c.get("id").asText() + "\", \"rejected\": \""
                                + other.get("id").asText() + "\"}");
            }
            assertThat(Files.readAllLines(votes)).hasSize(16);

            Path kto = dir.resolve("kto.jsonl");
            Path dpo = dir.resolve("dpo.jsonl");
            // A random model rarely ends an answer before max_tokens: keep the cut answers here.
            assertThat(FeedbackExport.export(votes, FeedbackExport.Format.KTO, null, kto, true)
                            .examples())
                    .isEqualTo(8);
            assertThat(FeedbackExport.export(votes, FeedbackExport.Format.DPO, null, dpo, true)
                            .examples())
                    .isEqualTo(8);
            LoraConfig lora = LoraConfig.of(4, 8, 0.0, List.of("q_proj", "v_proj", "o_proj"));
            FineTuneResult k = FineTune.builder()
                    .model(model)
                    .data(kto)
                    .method(FineTune.Method.KTO)
                    .lora(lora)
                    .output(adapters.resolve("kto-v1"))
                    .batchSize(4)
                    .maxSteps(3)
                    .learningRate(5e-2)
                    .evalFraction(0)
                    .seed(1)
                    .build()
                    .run();
            FineTuneResult d = FineTune.builder()
                    .model(model)
                    .data(dpo)
                    .method(FineTune.Method.DPO)
                    .lora(lora)
                    .output(adapters.resolve("dpo-v1"))
                    .batchSize(4)
                    .maxSteps(3)
                    .learningRate(5e-2)
                    .evalFraction(0)
                    .seed(1)
                    .build()
                    .run();
            assertThat(k.steps()).isEqualTo(3);
            assertThat(d.steps()).isEqualTo(3);

            // Live: the new adapter answers at once, differently from the base.
            post(server, "/v1/adapters", "{\"name\": \"dpo-v1\", \"path\": \"dpo-v1\"}");
            String base = Json.MAPPER
                    .readTree(ask(server, "base", "Is aspirin an NSAID?", 0, 0))
                    .at("/choices/0/message/content")
                    .asText();
            String tuned = Json.MAPPER
                    .readTree(ask(server, "dpo-v1", "Is aspirin an NSAID?", 0, 0))
                    .at("/choices/0/message/content")
                    .asText();
            assertThat(tuned).isNotEqualTo(base);

            // Removed while a long stream of it runs: the stream finishes.
            CompletableFuture<String> stream = CompletableFuture.supplyAsync(() -> {
                try {
                    return client.send(
                                    HttpRequest.newBuilder(URI.create(server.url() + "/v1/chat/completions"))
                                            .header("Content-Type", "application/json")
                                            .POST(
                                                    HttpRequest.BodyPublishers.ofString(
                                                            "{\"model\": \"dpo-v1\", \"stream\": true, \"temperature\": 0, \"max_tokens\": 400, "
                                                                    + "\"messages\": [{\"role\": \"user\", \"content\": \"Tell me about heparin.\"}]}"))
                                            .build(),
                                    HttpResponse.BodyHandlers.ofString())
                            .body();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!client.send(
                            HttpRequest.newBuilder(URI.create(server.url() + "/metrics"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString())
                    .body()
                    .contains("medqa_running_rows 1")) {
                assertThat(System.nanoTime()).as("the stream never started").isLessThan(deadline);
                Thread.sleep(2);
            }
            HttpResponse<String> removing = client.send(
                    HttpRequest.newBuilder(URI.create(server.url() + "/v1/adapters/dpo-v1"))
                            .DELETE()
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(removing.statusCode()).as(removing.body()).isIn(200, 202);
            assertThat(stream.get(120, TimeUnit.SECONDS))
                    .contains("\"finish_reason\":")
                    .endsWith("data: [DONE]\n\n");
            List<String> models = new ArrayList<>();
            deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (medqa.adapters().contains("dpo-v1")) {
                assertThat(System.nanoTime()).isLessThan(deadline);
                Thread.sleep(20);
            }
            models.addAll(medqa.adapters());
            assertThat(models).doesNotContain("dpo-v1");
        }
    }
}
