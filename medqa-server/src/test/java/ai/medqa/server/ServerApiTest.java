package ai.medqa.server;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.MedQA;
import ai.medqa.chat.Message;
import ai.medqa.common.Json;
import ai.medqa.generate.GenerationConfig;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The OpenAI-compatible API over real HTTP on loopback, against a small random model. */
class ServerApiTest {
    static final String KEY = "test-key-123";

    @TempDir
    static Path dir;

    static MedQA medqa;
    static MedQAServer server;
    static final HttpClient client =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeAll
    static void start() throws Exception {
        TinyServerModel.write(dir, 8192);
        medqa = TinyServerModel.load(dir);
        medqa.useAdapter(null); // the base model, as a request without "model" gets
        server = MedQAServer.start(
                ServerOptions.defaults("tiny")
                        .withPort(0)
                        .withApiKey(KEY)
                        .withFeedback(dir.resolve("votes/feedback.jsonl"))
                        .withLimits(8, 16, 64 * 1024),
                medqa);
    }

    @AfterAll
    static void stop() {
        server.close();
        medqa.close();
    }

    static HttpResponse<String> post(String path, String body) throws Exception {
        return client.send(
                HttpRequest.newBuilder(URI.create(server.url() + path))
                        .header("Authorization", "Bearer " + KEY)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(String path, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static ObjectNode chat(String question, long seed, int maxTokens) {
        return chat(question, (Number) seed, maxTokens);
    }

    static ObjectNode chat(String question, Number seed, int maxTokens) {
        ObjectNode body = Json.MAPPER
                .createObjectNode()
                .put("temperature", 0.9)
                .put("top_p", 0.95)
                .put("max_tokens", maxTokens);
        body.set("seed", Json.MAPPER.valueToTree(seed));
        body.putArray("messages").addObject().put("role", "user").put("content", question);
        return body;
    }

    /** What the library gives for the same messages and settings, called directly. */
    static String direct(String question, long seed, int maxTokens, String adapter) {
        int[] ids = medqa.chatTemplate().encode(List.of(Message.user(question)));
        GenerationConfig config = GenerationConfig.builder()
                .doSample(true)
                .temperature(0.9)
                .topP(0.95)
                .topK(0)
                .seed(seed)
                .maxNewTokens(maxTokens)
                .build();
        String before = medqa.activeAdapter().orElse(null);
        medqa.useAdapter(adapter);
        try {
            return medqa.generate(ids, config).text();
        } finally {
            medqa.useAdapter(before);
        }
    }

    /** The deltas of a streamed response, joined; also checks the event framing. */
    static String joinStream(String sse, boolean chat) throws Exception {
        StringBuilder text = new StringBuilder();
        List<String> events = new ArrayList<>();
        for (String block : sse.split("\n\n")) {
            assertThat(block).startsWith("data: ");
            events.add(block.substring(6));
        }
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode chunk = Json.MAPPER.readTree(e);
            if (chunk.get("choices").isEmpty()) {
                continue; // the usage chunk
            }
            JsonNode choice = chunk.get("choices").get(0);
            text.append(
                    chat
                            ? choice.path("delta").path("content").asText("")
                            : choice.get("text").asText());
        }
        return text.toString();
    }

    @Test
    void healthModelsAndThePageNeedNoKeyButTheApiDoes() throws Exception {
        assertThat(get("/health", null).body()).isEqualTo("{\"status\":\"ok\"}");
        assertThat(get("/", null).body()).contains("<title>MedQA chat</title>");
        HttpResponse<String> noKey = get("/v1/models", null);
        assertThat(noKey.statusCode()).isEqualTo(401);
        assertThat(Json.MAPPER.readTree(noKey.body()).get("error").get("code").asText())
                .isEqualTo("invalid_api_key");
        assertThat(get("/v1/models", "wrong").statusCode()).isEqualTo(401);
        assertThat(get("/metrics", null).statusCode()).isEqualTo(401);
        assertThat(client.send(
                                HttpRequest.newBuilder(URI.create(server.url() + "/v1/models"))
                                        .header("Authorization", "bearer " + KEY)
                                        .build(),
                                HttpResponse.BodyHandlers.ofString())
                        .statusCode())
                .as("the scheme is case-insensitive")
                .isEqualTo(200);
        JsonNode models = Json.MAPPER.readTree(get("/v1/models", KEY).body());
        assertThat(models.get("data")).extracting(m -> m.get("id").asText()).containsExactly("tiny", "pubmed");
    }

    @Test
    void chatStreamedAndNotGiveTheLibrarysSeededText() throws Exception {
        String expected = direct("Does aspirin thin the blood?", 42, 40, null);
        HttpResponse<String> plain = post(
                "/v1/chat/completions",
                chat("Does aspirin thin the blood?", 42, 40).toString());
        assertThat(plain.statusCode()).isEqualTo(200);
        JsonNode out = Json.MAPPER.readTree(plain.body());
        assertThat(out.get("object").asText()).isEqualTo("chat.completion");
        assertThat(out.get("model").asText()).isEqualTo("tiny");
        assertThat(out.at("/choices/0/message/content").asText())
                .isEqualTo(expected)
                .isNotEmpty();
        int completion = out.at("/usage/completion_tokens").asInt();
        assertThat(out.at("/usage/total_tokens").asInt())
                .isEqualTo(out.at("/usage/prompt_tokens").asInt() + completion);
        assertThat(out.at("/choices/0/finish_reason").asText()).isEqualTo(completion == 40 ? "length" : "stop");

        ObjectNode streaming = chat("Does aspirin thin the blood?", 42, 40).put("stream", true);
        streaming.putObject("stream_options").put("include_usage", true);
        HttpResponse<String> sse = post("/v1/chat/completions", streaming.toString());
        assertThat(sse.headers().firstValue("Content-Type"))
                .hasValueSatisfying(t -> assertThat(t).startsWith("text/event-stream"));
        assertThat(joinStream(sse.body(), true)).isEqualTo(expected);
        assertThat(sse.body()).contains("\"usage\":{\"prompt_tokens\"").contains("\"role\":\"assistant\"");
    }

    @Test
    void completionsStreamedAndNot() throws Exception {
        ObjectNode body = Json.MAPPER
                .createObjectNode()
                .put("prompt", "Metformin is")
                .put("temperature", 0)
                .put("max_tokens", 12);
        String expected = medqa.generate(
                        medqa.tokenizer().encode("Metformin is"),
                        GenerationConfig.greedy().toBuilder().maxNewTokens(12).build())
                .text();
        JsonNode out =
                Json.MAPPER.readTree(post("/v1/completions", body.toString()).body());
        assertThat(out.get("object").asText()).isEqualTo("text_completion");
        assertThat(out.at("/choices/0/text").asText()).isEqualTo(expected);
        assertThat(joinStream(
                        post("/v1/completions", body.put("stream", true).toString())
                                .body(),
                        false))
                .isEqualTo(expected);
    }

    @Test
    void eightConcurrentSeededRequestsEachGiveTheirOwnSingleRunText() throws Exception {
        List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            ObjectNode body = chat("Question number " + i + " about statins?", 1000 + i, 20 + i);
            if (i % 2 == 1) {
                body.put("stream", true);
            }
            if (i % 3 == 0) {
                body.put("model", "pubmed");
            }
            responses.add(client.sendAsync(
                    HttpRequest.newBuilder(URI.create(server.url() + "/v1/chat/completions"))
                            .header("Authorization", "Bearer " + KEY)
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                            .build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < 8; i++) {
            String body = responses.get(i).join().body();
            String text = i % 2 == 1
                    ? joinStream(body, true)
                    : Json.MAPPER
                            .readTree(body)
                            .at("/choices/0/message/content")
                            .asText();
            assertThat(text)
                    .as("request %d", i)
                    .isEqualTo(direct(
                            "Question number " + i + " about statins?",
                            1000 + i,
                            20 + i,
                            i % 3 == 0 ? "pubmed" : null));
        }
    }

    @Test
    void theModelFieldSelectsTheAdapterPerRequest() throws Exception {
        ObjectNode body = chat("Is warfarin an anticoagulant?", 9, 30);
        String base = Json.MAPPER
                .readTree(post("/v1/chat/completions", body.toString()).body())
                .at("/choices/0/message/content")
                .asText();
        JsonNode tuned = Json.MAPPER.readTree(
                post("/v1/chat/completions", body.put("model", "pubmed").toString())
                        .body());
        assertThat(tuned.get("model").asText()).isEqualTo("pubmed");
        assertThat(tuned.at("/choices/0/message/content").asText())
                .isEqualTo(direct("Is warfarin an anticoagulant?", 9, 30, "pubmed"))
                .isNotEqualTo(base);
        HttpResponse<String> unknown =
                post("/v1/chat/completions", body.put("model", "gpt-4").toString());
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(Json.MAPPER.readTree(unknown.body()).at("/error/code").asText())
                .isEqualTo("model_not_found");
    }

    @Test
    void badInputGetsFourHundredNamingTheFieldOrRule() throws Exception {
        assertError(
                post(
                        "/v1/chat/completions",
                        chat("q", 1, 5).put("temperature", -1).toString()),
                400,
                "temperature");
        assertError(post("/v1/chat/completions", chat("q", 1, 5).put("top_p", 2).toString()), 400, "top_p");
        assertError(post("/v1/chat/completions", chat("q", 1, 5).put("n", 2).toString()), 400, "n:");
        assertError(
                post(
                        "/v1/chat/completions",
                        chat("q", 1, 5).put("max_tokens", 0).toString()),
                400,
                "max_tokens");
        assertError(post("/v1/chat/completions", chat("q", 1.5, 5).toString()), 400, "seed");
        ObjectNode objectModel = chat("q", 1, 5);
        objectModel.putObject("model").put("id", "tiny");
        assertError(post("/v1/chat/completions", objectModel.toString()), 400, "model");
        assertError(post("/v1/chat/completions", "{\"messages\": [ {\"role\": "), 400, "not valid JSON");
        assertError(
                post("/v1/chat/completions", chat("x".repeat(70 * 1024), 1, 5).toString()), 413, "--max-body");
        assertError(
                post("/v1/chat/completions", chat("word ".repeat(9000), 1, 5).toString()), 400, "context");
        ObjectNode twoUsers = chat("first", 1, 5);
        twoUsers.withArray("messages").addObject().put("role", "user").put("content", "second");
        assertError(post("/v1/chat/completions", twoUsers.toString()), 400, "alternate");
        ObjectNode tool = chat("q", 1, 5);
        tool.withArray("messages").addObject().put("role", "tool").put("content", "x");
        assertError(post("/v1/chat/completions", tool.toString()), 400, "messages[1].tool_call_id");
        // Unknown fields are ignored, as clients send extras.
        assertThat(post(
                                "/v1/chat/completions",
                                chat("q", 1, 3)
                                        .put("logit_bias_extra", 1)
                                        .put("user", "u")
                                        .toString())
                        .statusCode())
                .isEqualTo(200);
    }

    static void assertError(HttpResponse<String> r, int status, String mention) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        JsonNode error = Json.MAPPER.readTree(r.body()).get("error");
        assertThat(error.get("message").asText()).contains(mention);
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.has("code")).isTrue();
    }

    @Test
    void aClientThatDisconnectsFreesItsRow() throws Exception {
        ObjectNode body = chat("Tell me everything about insulin.", 3, 7000).put("stream", true);
        byte[] bytes = body.toString().getBytes(StandardCharsets.UTF_8);
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY
                            + "\r\nContent-Type: application/json\r\nContent-Length: " + bytes.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.flush();
            BufferedReader in =
                    new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            int events = 0;
            while (events < 5) {
                String line = in.readLine();
                if (line != null && line.startsWith("data: ")) {
                    events++;
                }
            }
            assertThat(metric("medqa_running_rows")).isEqualTo(1.0);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (metric("medqa_running_rows") > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(metric("medqa_running_rows"))
                .as("rows running after the client left")
                .isZero();
        assertThat(get("/metrics", KEY).body()).contains("status=\"499\"");
    }

    static double metric(String name) throws Exception {
        for (String line : get("/metrics", KEY).body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1));
            }
        }
        throw new AssertionError("no metric " + name);
    }

    @Test
    void metricsAreInPrometheusTextFormat() throws Exception {
        post("/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 2}");
        String text = get("/metrics", KEY).body();
        assertThat(text)
                .contains(
                        "# TYPE medqa_requests_total counter",
                        "medqa_requests_total{endpoint=\"/v1/completions\",status=\"200\"}",
                        "# TYPE medqa_prompt_tokens_total counter",
                        "medqa_completion_tokens_total",
                        "# TYPE medqa_queue_length gauge",
                        "medqa_running_rows",
                        "medqa_tokens_per_second");
        assertThat(metric("medqa_completion_tokens_total")).isPositive();
    }

    /**
     * A vote names a completion and is recorded with what produced it (messages, adapter, settings,
     * the seed drawn for it, the text, why it ended); concurrent votes make whole lines; a pair of
     * answers to the same conversation is one line; unknown ids and mismatched pairs are refused.
     */
    @Test
    void votesAreRecordedWithTheCompletionTheyName() throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            HttpResponse<String> r = post(
                    "/v1/chat/completions",
                    chat("question " + (i % 2), i, 4)
                            .put("temperature", 0.3 + 0.4 * i)
                            .toString());
            assertThat(r.statusCode()).isEqualTo(200);
            ids.add(Json.MAPPER.readTree(r.body()).get("id").asText());
        }
        long before = Files.exists(dir.resolve("votes/feedback.jsonl"))
                ? Files.readAllLines(dir.resolve("votes/feedback.jsonl")).size()
                : 0;
        List<CompletableFuture<HttpResponse<String>>> votes = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            ObjectNode vote = Json.MAPPER
                    .createObjectNode()
                    .put("vote", i % 2 == 0 ? "like" : "dislike")
                    .put("completion_id", ids.get(i % 4));
            votes.add(client.sendAsync(
                    HttpRequest.newBuilder(URI.create(server.url() + "/v1/feedback"))
                            .header("Authorization", "Bearer " + KEY)
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(vote.toString()))
                            .build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        votes.forEach(v -> assertThat(v.join().statusCode()).isEqualTo(200));
        List<String> lines = Files.readAllLines(dir.resolve("votes/feedback.jsonl"));
        assertThat(lines).hasSize((int) before + 16);
        for (String line : lines.subList((int) before, lines.size())) {
            JsonNode record = Json.MAPPER.readTree(line);
            assertThat(record.get("type").asText()).isEqualTo("vote");
            JsonNode c = record.get("completion");
            int i = ids.indexOf(c.get("id").asText());
            assertThat(i).isNotNegative();
            assertThat(c.get("settings").get("temperature").asDouble()).isEqualTo(0.3 + 0.4 * i);
            assertThat(c.get("settings").get("seed").asLong()).isEqualTo(i);
            assertThat(c.get("messages").get(0).get("content").asText()).isEqualTo("question " + (i % 2));
            assertThat(c.get("completion").isTextual()).isTrue();
            assertThat(c.has("finish_reason")).isTrue();
        }
        HttpResponse<String> pair =
                post("/v1/feedback", "{\"chosen\": \"" + ids.get(0) + "\", \"rejected\": \"" + ids.get(2) + "\"}");
        assertThat(pair.statusCode()).as(pair.body()).isEqualTo(200);
        JsonNode pairLine = Json.MAPPER.readTree(
                Files.readAllLines(dir.resolve("votes/feedback.jsonl")).get(lines.size()));
        assertThat(pairLine.get("type").asText()).isEqualTo("pair");
        assertThat(pairLine.at("/chosen/id").asText()).isEqualTo(ids.get(0));
        assertThat(pairLine.at("/rejected/id").asText()).isEqualTo(ids.get(2));
        assertError(
                post("/v1/feedback", "{\"chosen\": \"" + ids.get(0) + "\", \"rejected\": \"" + ids.get(1) + "\"}"),
                400,
                "same conversation");
        HttpResponse<String> unknown =
                post("/v1/feedback", "{\"vote\": \"like\", \"completion_id\": \"chatcmpl-nope\"}");
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(unknown.body()).contains("no completion chatcmpl-nope is known here");
        assertError(
                post("/v1/feedback", "{\"vote\": \"meh\", \"completion_id\": \"" + ids.get(0) + "\"}"), 400, "vote");
        assertError(post("/v1/feedback", "{\"vote\": \"like\"}"), 400, "completion_id");
    }

    @Test
    void queueFullIs429WithRetryAfterAndHealthSaysLoadingUntilReady() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try (MedQAServer small =
                MedQAServer.start(ServerOptions.defaults("tiny").withPort(0).withLimits(1, 0, 4096), () -> {
                    release.await();
                    return TinyServerModel.load(dir);
                })) {
            HttpResponse<String> loading = client.send(
                    HttpRequest.newBuilder(URI.create(small.url() + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(loading.statusCode()).isEqualTo(503);
            assertThat(loading.body()).isEqualTo("{\"status\":\"loading\"}");
            release.countDown();
            small.awaitReady(Duration.ofSeconds(60));
            HttpRequest longOne = HttpRequest.newBuilder(URI.create(small.url() + "/v1/chat/completions"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(
                            chat("long", 1, 6000).put("stream", true).toString()))
                    .build();
            CompletableFuture<HttpResponse<String>> first =
                    client.sendAsync(longOne, HttpResponse.BodyHandlers.ofString());
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!client.send(
                            HttpRequest.newBuilder(URI.create(small.url() + "/metrics"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString())
                    .body()
                    .contains("medqa_running_rows 1")) {
                assertThat(System.nanoTime())
                        .as("the first request never started")
                        .isLessThan(deadline);
                Thread.sleep(5);
            }
            HttpResponse<String> busy = client.send(
                    HttpRequest.newBuilder(URI.create(small.url() + "/v1/chat/completions"))
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(
                                    chat("second", 2, 5).toString()))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(busy.statusCode()).isEqualTo(429);
            assertThat(busy.headers().firstValue("Retry-After")).isPresent();
            assertThat(Json.MAPPER.readTree(busy.body()).at("/error/type").asText())
                    .isEqualTo("rate_limit_error");
            first.cancel(true);
        }
    }
}
