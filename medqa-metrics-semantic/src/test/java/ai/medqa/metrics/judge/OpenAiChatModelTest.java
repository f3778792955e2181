package ai.medqa.metrics.judge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.medqa.common.Json;
import ai.medqa.metrics.judge.FakeChatServer.Reply;
import ai.medqa.metrics.judge.FakeChatServer.Request;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** End to end against a loopback chat-completions server: the request, retries, timeouts, the key. */
class OpenAiChatModelTest {
    static {
        // Let the client's debug and warn lines through so the key check below sees every log line
        // (effective when this class is the first to create the loggers, as in a narrow test run).
        System.setProperty("org.slf4j.simpleLogger.log.ai.medqa.metrics.judge", "debug");
    }

    private static final ObjectMapper JSON = Json.MAPPER;
    private static final String KEY = "sk-test-9f8e7d6c5b4a3210SECRET";
    private static final Map<String, String> ENV = Map.of("OPENAI_API_KEY", KEY);

    private FakeChatServer server;
    private PrintStream originalErr;
    private ByteArrayOutputStream logs;

    @BeforeEach
    void start() throws IOException {
        server = new FakeChatServer();
        // slf4j-simple writes to whatever System.err is at the time of the call: capture it.
        originalErr = System.err;
        logs = new ByteArrayOutputStream();
        System.setErr(new PrintStream(logs, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void stop() {
        System.setErr(originalErr);
        server.close();
        assertThat(logs.toString(StandardCharsets.UTF_8)).as("logs").doesNotContain(KEY);
    }

    private OpenAiChatModel.Builder client() {
        return OpenAiChatModel.builder()
                .baseUrl(server.baseUrl())
                .model("judge-7b")
                .environment(ENV::get)
                .backoff(Duration.ofMillis(20), Duration.ofSeconds(5))
                .jitterSeed(42)
                .requestTimeout(Duration.ofSeconds(5));
    }

    @Test
    void sendsTheRubricAsAChatRequestAndParsesTheReply() throws IOException {
        server.then(Reply.ok("Evaluation: Correct: ACE inhibitors can cause a dry cough.\nTotal rating: 4"));
        LlmJudge judge = new LlmJudge(client().temperature(0.2).maxTokens(300).build());

        JudgeVerdict v =
                judge.judge("Which drug class causes a dry cough?", "ACE inhibitors.", "ACE inhibitors (bradykinin).");

        assertThat(v.status()).isEqualTo(JudgeVerdict.Status.OK);
        assertThat(v.rating().getAsDouble()).isEqualTo(4.0);
        assertThat(v.feedback()).isEqualTo("Correct: ACE inhibitors can cause a dry cough.");

        assertThat(server.requests).hasSize(1);
        Request r = server.requests.get(0);
        assertThat(r.method()).isEqualTo("POST");
        assertThat(r.path()).isEqualTo("/v1/chat/completions");
        assertThat(r.header("Authorization")).isEqualTo("Bearer " + KEY);
        assertThat(r.header("Content-Type")).startsWith("application/json");
        JsonNode body = JSON.readTree(r.body());
        assertThat(body.get("model").asText()).isEqualTo("judge-7b");
        assertThat(body.get("temperature").asDouble()).isEqualTo(0.2);
        assertThat(body.get("max_tokens").asInt()).isEqualTo(300);
        JsonNode messages = body.get("messages");
        assertThat(messages).hasSize(2);
        assertThat(messages.get(0).get("role").asText()).isEqualTo("system");
        assertThat(messages.get(0).get("content").asText())
                .isEqualTo(JudgePrompt.SYSTEM)
                .contains("1: The system_answer is terrible")
                .contains("4: The system_answer is excellent")
                .contains("Feedback:::\nEvaluation: (your rationale for the rating, as a text)\n"
                        + "Total rating: (your rating, as a number between 1 and 4)");
        assertThat(messages.get(1).get("role").asText()).isEqualTo("user");
        assertThat(messages.get(1).get("content").asText())
                .isEqualTo(JudgePrompt.user(
                        "Which drug class causes a dry cough?", "ACE inhibitors.", "ACE inhibitors (bradykinin)."))
                .contains("Question: Which drug class causes a dry cough?\nAnswer: ACE inhibitors.\n")
                .contains("ACE inhibitors (bradykinin).")
                .endsWith("Feedback:::\nEvaluation: ");
    }

    @Test
    void retriesOn429And503AndHonoursRetryAfter() {
        server.then(
                Reply.status(429, "{\"error\":{\"message\":\"Rate limit reached\"}}")
                        .withHeader("Retry-After", "1"),
                Reply.status(503, "upstream overloaded"),
                Reply.status(502, ""),
                Reply.dropConnection());
        OpenAiChatModel model = client().maxAttempts(5).build();

        long start = System.nanoTime();
        String reply = model.complete("sys", "user");
        long ms = (System.nanoTime() - start) / 1_000_000;

        assertThat(reply).isEqualTo(FakeChatServer.DEFAULT_REPLY);
        assertThat(server.requests).as("attempts: 429, 503, 502, dropped, ok").hasSize(5);
        assertThat(ms).as("Retry-After: 1 honoured").isGreaterThanOrEqualTo(1000);
        assertThat(server.requests)
                .allSatisfy(r ->
                        assertThat(r.body()).isEqualTo(server.requests.get(0).body()));
        assertThat(logs.toString(StandardCharsets.UTF_8))
                .contains("HTTP 429")
                .contains("(Retry-After)")
                .contains("HTTP 503");
    }

    @Test
    void givesUpAfterTheLastAttemptNamingStatusAndEndpointButNeverTheKey() {
        // A server that echoes the key in its error body must not get it into our message.
        for (int i = 0; i < 3; i++) {
            server.then(Reply.status(503, "{\"error\":\"overloaded; key " + KEY + "\"}"));
        }
        OpenAiChatModel model = client().maxAttempts(3).build();

        JudgeHttpException e = catchThrowableOfType(JudgeHttpException.class, () -> model.complete("sys", "user"));

        assertThat(server.requests).hasSize(3);
        assertThat(e.status()).isEqualTo(503);
        assertThat(e.attempts()).isEqualTo(3);
        assertThat(e.endpoint().toString()).isEqualTo(server.baseUrl() + "/chat/completions");
        assertThat(e.getMessage())
                .contains(server.baseUrl() + "/chat/completions")
                .contains("3 attempts")
                .contains("HTTP 503")
                .contains("overloaded")
                .doesNotContain(KEY);
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        assertThat(trace.toString()).doesNotContain(KEY);
    }

    @Test
    void clientErrorsAreNotRetried() {
        server.then(Reply.status(401, "{\"error\":{\"message\":\"Incorrect API key provided: " + KEY + "\"}}"));
        OpenAiChatModel model = client().build();

        assertThatThrownBy(() -> model.complete("sys", "user"))
                .isInstanceOf(JudgeHttpException.class)
                .hasMessageContaining("HTTP 401")
                .hasMessageContaining("not retried")
                .hasMessageContaining("Incorrect API key provided: ****")
                .hasMessageNotContaining(KEY);
        assertThat(server.requests).hasSize(1);
    }

    @Test
    void aTimeoutIsRetriedAndTheLastOneReported() {
        server.then(Reply.slow(3000));
        OpenAiChatModel model =
                client().requestTimeout(Duration.ofMillis(300)).maxAttempts(2).build();

        long start = System.nanoTime();
        assertThat(model.complete("sys", "user")).isEqualTo(FakeChatServer.DEFAULT_REPLY);
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertThat(server.requests).hasSize(2);
        assertThat(ms).as("the slow reply was not awaited").isLessThan(2500);

        server.then(Reply.slow(3000), Reply.slow(3000));
        long start2 = System.nanoTime();
        JudgeHttpException e = catchThrowableOfType(JudgeHttpException.class, () -> model.complete("sys", "user"));
        long ms2 = (System.nanoTime() - start2) / 1_000_000;
        assertThat(e.getMessage()).contains("2 attempts").contains("no response within 300 ms");
        assertThat(e.status()).isEqualTo(-1);
        assertThat(ms2).isBetween(600L, 2500L);
    }

    @Test
    void aRetryAfterBeyondTheMaximumBackOffEndsTheRetries() {
        server.then(Reply.status(429, "slow down").withHeader("Retry-After", "3600"));
        OpenAiChatModel model = client().build();
        assertThatThrownBy(() -> model.complete("sys", "user"))
                .isInstanceOf(JudgeHttpException.class)
                .hasMessageContaining("retry after 3600 s");
        assertThat(server.requests).hasSize(1);
    }

    @Test
    void aReplyWithoutContentIsAnError() {
        server.then(Reply.status(200, "{\"choices\":[]}"));
        assertThatThrownBy(() -> client().build().complete("sys", "user"))
                .isInstanceOf(JudgeHttpException.class)
                .hasMessageContaining("choices[0].message.content");
        assertThat(server.requests).hasSize(1);
    }

    @Test
    void withoutTheVariableNoAuthorizationIsSentAndNoSystemMessageWhenEmpty() throws IOException {
        OpenAiChatModel model =
                client().environment(name -> null).apiKeyEnv("LOCAL_KEY").build();
        model.complete("", "hello");
        Request r = server.requests.get(0);
        assertThat(r.header("Authorization")).isNull();
        JsonNode messages = JSON.readTree(r.body()).get("messages");
        assertThat(messages).hasSize(1);
        assertThat(messages.get(0).get("role").asText()).isEqualTo("user");
        assertThat(model.toString()).contains("LOCAL_KEY not set");
    }

    @Test
    void toStringMasksTheKeyAndTheEndpointIsDerivedFromTheBase() {
        OpenAiChatModel model = client().build();
        assertThat(model.toString())
                .doesNotContain(KEY)
                .contains("****")
                .contains("OPENAI_API_KEY")
                .contains("judge-7b");
        assertThat(model.endpoint().toString()).isEqualTo(server.baseUrl() + "/chat/completions");
        OpenAiChatModel full =
                client().baseUrl(server.baseUrl() + "/chat/completions/").build();
        assertThat(full.endpoint()).isEqualTo(model.endpoint());
    }

    @Test
    void backOffDoublesWithSeededJitterUpToTheCap() {
        OpenAiChatModel a = client().backoff(Duration.ofMillis(100), Duration.ofMillis(1000))
                .jitterSeed(7)
                .build();
        OpenAiChatModel b = client().backoff(Duration.ofMillis(100), Duration.ofMillis(1000))
                .jitterSeed(7)
                .build();
        long[] expectedMax = {100, 200, 400, 800, 1000, 1000};
        for (int attempt = 1; attempt <= expectedMax.length; attempt++) {
            long d = a.backoff(attempt).toMillis();
            assertThat(d).isBetween(expectedMax[attempt - 1] / 2, expectedMax[attempt - 1]);
            assertThat(b.backoff(attempt).toMillis())
                    .as("same seed, same delays")
                    .isEqualTo(d);
        }
        assertThat(a.backoff(100).toMillis()).isBetween(500L, 1000L);
    }
}
