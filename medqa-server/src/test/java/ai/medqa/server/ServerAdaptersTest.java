package ai.medqa.server;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.MedQA;
import ai.medqa.common.Json;
import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adapters loaded and removed while the server runs ({@code --adapters-dir}), over real HTTP: a loaded
 * adapter answers differently from the base at once; removing it while a long stream of it runs
 * lets that stream finish and refuses new requests for it; bad folders are refused and the server
 * keeps serving.
 */
class ServerAdaptersTest {
    static final HttpClient client =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    Path dir;

    static HttpResponse<String> call(MedQAServer s, String method, String path, String body) throws Exception {
        HttpRequest.Builder b =
                HttpRequest.newBuilder(URI.create(s.url() + path)).header("Content-Type", "application/json");
        b = body == null
                ? b.method(method, HttpRequest.BodyPublishers.noBody())
                : b.method(method, HttpRequest.BodyPublishers.ofString(body));
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static String greedy(MedQAServer s, String model) throws Exception {
        HttpResponse<String> r = call(
                s,
                "POST",
                "/v1/chat/completions",
                "{\"model\": \"" + model + "\", \"temperature\": 0, "
                        + "\"max_tokens\": 12, \"messages\": [{\"role\": \"user\", \"content\": \"Is aspirin an NSAID?\"}]}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.MAPPER.readTree(r.body()).at("/choices/0/message/content").asText();
    }

    @Test
    void adaptersComeAndGoWhileServing() throws Exception {
        TinyServerModel.write(dir, 8192);
        Path adapters = Files.createDirectories(dir.resolve("adapters"));
        copy(dir.resolve("pubmed"), adapters.resolve("tuned"));
        // An adapter of another model (other shapes), and a folder with no adapter files.
        Path other = dir.resolve("other-model");
        RandomCheckpoint.write(other, RandomCheckpoint.config(48, 64, 2, 4, 2, 32000, 256, 0), DType.F32, 9);
        try (ai.medqa.model.MistralModel m = ai.medqa.model.MistralModel.load(
                        other,
                        ai.djl.Device.cpu(),
                        ai.djl.ndarray.types.DataType.FLOAT32,
                        ai.medqa.model.LinearFactory.DENSE);
                ai.medqa.lora.LoraAdapter a = ai.medqa.lora.LoraAdapter.create(
                        m, "x", ai.medqa.lora.LoraConfig.of(2, 4, 0, java.util.List.of("q_proj")), 1)) {
            a.save(adapters.resolve("wrong-shapes"));
        }
        Files.createDirectories(adapters.resolve("empty"));
        try (MedQA medqa = MedQA.builder().model(dir.resolve("model")).build();
                MedQAServer server = MedQAServer.start(
                        ServerOptions.defaults("tiny").withPort(0).withAdaptersDir(adapters), medqa)) {
            String base = greedy(server, "tiny");
            HttpResponse<String> added =
                    call(server, "POST", "/v1/adapters", "{\"name\": \"tuned\", \"path\": \"tuned\"}");
            assertThat(added.statusCode()).as(added.body()).isEqualTo(200);
            assertThat(call(server, "GET", "/v1/models", null).body()).contains("\"id\":\"tuned\"");
            String tuned = greedy(server, "tuned");
            assertThat(tuned).as("the loaded adapter changes the answer").isNotEqualTo(base);

            // Refusals, each naming what is wrong; the server keeps serving.
            assertRefused(
                    call(server, "POST", "/v1/adapters", "{\"name\": \"tuned\", \"path\": \"tuned\"}"), 409, "in use");
            assertRefused(
                    call(server, "POST", "/v1/adapters", "{\"name\": \"up\", \"path\": \"../model\"}"),
                    400,
                    "must be a folder under");
            assertRefused(
                    call(
                            server,
                            "POST",
                            "/v1/adapters",
                            "{\"name\": \"up\", \"path\": \"" + dir.resolve("pubmed") + "\"}"),
                    400,
                    "must be a folder under");
            assertRefused(
                    call(server, "POST", "/v1/adapters", "{\"name\": \"e\", \"path\": \"empty\"}"),
                    400,
                    "adapter_config.json");
            assertRefused(
                    call(server, "POST", "/v1/adapters", "{\"name\": \"w\", \"path\": \"wrong-shapes\"}"),
                    400,
                    "q_proj.lora_A.weight has shape [2, 48]; expected [2, 32]");
            assertRefused(
                    call(server, "POST", "/v1/adapters", "{\"name\": \"../x\", \"path\": \"tuned\"}"), 400, "name");
            assertThat(call(server, "GET", "/v1/models", null).body())
                    .doesNotContain("\"id\":\"w\"")
                    .doesNotContain("\"id\":\"e\"");
            assertThat(greedy(server, "tuned")).isEqualTo(tuned);

            // A long stream of the adapter runs while it is removed: it finishes; new requests for it are refused.
            server.pieceDelay = Duration.ofMillis(15);
            CompletableFuture<String> stream = CompletableFuture.supplyAsync(() -> {
                try {
                    HttpRequest req = HttpRequest.newBuilder(URI.create(server.url() + "/v1/chat/completions"))
                            .header("Content-Type", "application/json")
                            .POST(
                                    HttpRequest.BodyPublishers.ofString(
                                            "{\"model\": \"tuned\", \"stream\": true, \"temperature\": 0, \"max_tokens\": 60, "
                                                    + "\"messages\": [{\"role\": \"user\", \"content\": \"Tell me about heparin.\"}]}"))
                            .build();
                    return client.send(req, HttpResponse.BodyHandlers.ofString())
                            .body();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!call(server, "GET", "/metrics", null).body().contains("medqa_running_rows 1")) {
                assertThat(System.nanoTime()).as("the stream never started").isLessThan(deadline);
                Thread.sleep(5);
            }
            HttpResponse<String> removing = call(server, "DELETE", "/v1/adapters/tuned", null);
            assertThat(removing.statusCode()).as(removing.body()).isEqualTo(202);
            assertRefused(
                    call(
                            server,
                            "POST",
                            "/v1/chat/completions",
                            "{\"model\": \"tuned\", \"messages\": " + "[{\"role\": \"user\", \"content\": \"hi\"}]}"),
                    404,
                    "tuned");
            String sse = stream.get(60, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(sse).contains("\"finish_reason\":\"length\"").endsWith("data: [DONE]\n\n");
            deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (medqa.adapters().contains("tuned")) {
                assertThat(System.nanoTime()).as("the adapter was never freed").isLessThan(deadline);
                Thread.sleep(20);
            }
            assertThat(call(server, "GET", "/v1/models", null).body()).doesNotContain("\"id\":\"tuned\"");
            assertRefused(call(server, "DELETE", "/v1/adapters/tuned", null), 404, "no adapter tuned");
            server.pieceDelay = Duration.ZERO;
            assertThat(greedy(server, "tiny")).isEqualTo(base);
        }
        try (MedQA medqa = MedQA.builder().model(dir.resolve("model")).build();
                MedQAServer fixed =
                        MedQAServer.start(ServerOptions.defaults("tiny").withPort(0), medqa)) {
            assertRefused(
                    call(fixed, "POST", "/v1/adapters", "{\"name\": \"tuned\", \"path\": \"tuned\"}"),
                    404,
                    "--adapters-dir");
        }
    }

    static void assertRefused(HttpResponse<String> r, int status, String mention) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        JsonNode error = Json.MAPPER.readTree(r.body()).get("error");
        assertThat(error.get("message").asText()).contains(mention);
    }

    static void copy(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }
}
