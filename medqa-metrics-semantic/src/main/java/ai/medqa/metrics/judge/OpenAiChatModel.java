package ai.medqa.metrics.judge;

import ai.medqa.common.Json;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link JudgeModel} behind any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, TGI,
 * llama.cpp's server, Ollama, ...): {@code POST {base}/chat/completions} with {@code model},
 * {@code messages}, {@code temperature} and {@code max_tokens}; the reply is
 * {@code choices[0].message.content}.
 *
 * <p>Failures that waiting can fix are retried with exponential back-off and jitter: 429, every 5xx,
 * timeouts and other I/O errors. A {@code Retry-After} header (seconds or an HTTP date) replaces the
 * computed delay; one longer than the maximum back-off ends the retries rather than stalling a run.
 * Other statuses (400, 401, 404, ...) fail at once: repeating the same request cannot fix them.
 *
 * <p>The API key is read once from an environment variable ({@code OPENAI_API_KEY} unless told
 * otherwise) and sent only as {@code Authorization: Bearer}. It never appears in logs, in
 * {@link #toString()} or in exception messages: text that could echo it (a server's error body) is
 * scrubbed. Without the variable no Authorization header is sent, which is what local servers expect.
 *
 * <p>Thread-safe: one instance may serve concurrent callers.
 */
public final class OpenAiChatModel implements JudgeModel {
    private static final Logger LOG = LoggerFactory.getLogger(OpenAiChatModel.class);
    private static final ObjectMapper JSON = Json.MAPPER;
    private static final String MASK = "****";
    /** How much of an error body goes into an exception message: enough to read the server's reason. */
    private static final int BODY_SNIPPET = 300;

    private final URI endpoint;
    private final String displayEndpoint;
    private final String model;
    private final String apiKeyEnv;
    private final String apiKey; // null when the variable is not set
    private final double temperature;
    private final int maxTokens;
    private final Duration requestTimeout;
    private final int maxAttempts;
    private final Duration initialBackoff;
    private final Duration maxBackoff;
    private final Random jitter;
    private final HttpClient http;

    private OpenAiChatModel(Builder b) {
        this.endpoint = chatCompletions(b.baseUrl);
        this.displayEndpoint = display(endpoint);
        this.model = b.model;
        this.apiKeyEnv = b.apiKeyEnv;
        String key = b.environment.apply(b.apiKeyEnv);
        this.apiKey = key == null || key.isBlank() ? null : key.strip();
        this.temperature = b.temperature;
        this.maxTokens = b.maxTokens;
        this.requestTimeout = b.requestTimeout;
        this.maxAttempts = b.maxAttempts;
        this.initialBackoff = b.initialBackoff;
        this.maxBackoff = b.maxBackoff;
        this.jitter = b.jitterSeed == null ? new Random() : new Random(b.jitterSeed);
        // HTTP/1.1: one request at a time needs nothing more, and it avoids the h2c upgrade dance
        // that some plain-http local servers mishandle.
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(b.connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
        if (apiKey == null) {
            LOG.info(
                    "{}: environment variable {} is not set; sending no Authorization header",
                    displayEndpoint,
                    apiKeyEnv);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The URL requests go to: the base URL with {@code /chat/completions} appended (unless already there). */
    public URI endpoint() {
        return endpoint;
    }

    @Override
    public String complete(String systemPrompt, String userPrompt) {
        Objects.requireNonNull(userPrompt, "userPrompt");
        HttpRequest request = request(body(systemPrompt, userPrompt));
        for (int attempt = 1; ; attempt++) {
            int status = -1;
            String failure;
            Duration retryAfter = null;
            Throwable cause = null;
            try {
                LOG.debug("POST {} (attempt {}/{})", displayEndpoint, attempt, maxAttempts);
                HttpResponse<String> response =
                        http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                status = response.statusCode();
                if (status / 100 == 2) {
                    return content(response.body(), attempt);
                }
                failure = "HTTP " + status + snippet(response.body());
                if (status != 429 && status / 100 != 5) {
                    throw failure(
                            "POST " + displayEndpoint + " failed: " + failure + " (not retried)",
                            status,
                            attempt,
                            null);
                }
                retryAfter = retryAfter(response).orElse(null);
            } catch (HttpTimeoutException e) {
                failure = "no response within " + requestTimeout.toMillis() + " ms";
                cause = e;
            } catch (IOException e) {
                failure = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + scrub(e.getMessage()));
                cause = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw failure("POST " + displayEndpoint + " interrupted", status, attempt, e);
            }
            if (attempt >= maxAttempts) {
                throw failure(
                        "POST " + displayEndpoint + " failed after " + attempt + " attempt" + (attempt == 1 ? "" : "s")
                                + "; last: " + failure,
                        status,
                        attempt,
                        cause);
            }
            Duration delay = retryAfter != null ? retryAfter : backoff(attempt);
            if (delay.compareTo(maxBackoff) > 0) {
                throw failure(
                        "POST " + displayEndpoint + " failed: " + failure + "; the server asks to retry after "
                                + delay.toSeconds() + " s, more than the maximum back-off of " + maxBackoff.toSeconds()
                                + " s",
                        status,
                        attempt,
                        cause);
            }
            LOG.warn(
                    "{}: {}; retry {}/{} in {} ms{}",
                    displayEndpoint,
                    failure,
                    attempt,
                    maxAttempts - 1,
                    delay.toMillis(),
                    retryAfter != null ? " (Retry-After)" : "");
            sleep(delay, status, attempt);
        }
    }

    private HttpRequest request(String body) {
        HttpRequest.Builder r = HttpRequest.newBuilder(endpoint)
                .timeout(requestTimeout)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (apiKey != null) {
            r.header("Authorization", "Bearer " + apiKey);
        }
        return r.build();
    }

    private String body(String systemPrompt, String userPrompt) {
        ObjectNode root = JSON.createObjectNode();
        root.put("model", model);
        ArrayNode messages = root.putArray("messages");
        if (systemPrompt != null && !systemPrompt.isEmpty()) {
            messages.addObject().put("role", "system").put("content", systemPrompt);
        }
        messages.addObject().put("role", "user").put("content", userPrompt);
        root.put("temperature", temperature);
        root.put("max_tokens", maxTokens);
        try {
            return JSON.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a chat request", e);
        }
    }

    private String content(String body, int attempt) {
        JsonNode content;
        try {
            content =
                    JSON.readTree(body).path("choices").path(0).path("message").path("content");
        } catch (JsonProcessingException e) {
            throw failure("POST " + displayEndpoint + ": the reply is not JSON" + snippet(body), 200, attempt, e);
        }
        if (!content.isTextual()) {
            throw failure(
                    "POST " + displayEndpoint + ": the reply has no choices[0].message.content" + snippet(body),
                    200,
                    attempt,
                    null);
        }
        return content.asText();
    }

    /** Delay before retry {@code attempt}: initial * 2^(attempt-1), capped, then "equal jitter" (half fixed, half random). */
    Duration backoff(int attempt) {
        long cap = maxBackoff.toMillis();
        long base = initialBackoff.toMillis() << Math.min(attempt - 1, 30);
        long d = base <= 0 || base > cap ? cap : base; // <= 0: shift overflow
        double r;
        synchronized (jitter) {
            r = jitter.nextDouble();
        }
        return Duration.ofMillis(d / 2 + (long) (r * (d - d / 2)));
    }

    private static Optional<Duration> retryAfter(HttpResponse<?> response) {
        Optional<String> header = response.headers().firstValue("Retry-After");
        if (header.isEmpty()) {
            return Optional.empty();
        }
        String v = header.get().strip();
        try {
            return Optional.of(Duration.ofSeconds(Math.max(0, Long.parseLong(v))));
        } catch (NumberFormatException notSeconds) {
            try {
                Duration d = Duration.between(
                        ZonedDateTime.now(), ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME));
                return Optional.of(d.isNegative() ? Duration.ZERO : d);
            } catch (DateTimeParseException notADate) {
                LOG.debug("ignoring an unreadable Retry-After header: {}", v);
                return Optional.empty();
            }
        }
    }

    private void sleep(Duration delay, int status, int attempt) {
        try {
            Thread.sleep(delay.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw failure("POST " + displayEndpoint + " interrupted while waiting to retry", status, attempt, e);
        }
    }

    private JudgeHttpException failure(String message, int status, int attempts, Throwable cause) {
        return new JudgeHttpException(scrub(message), endpoint, status, attempts, cause);
    }

    private String snippet(String body) {
        if (body == null || body.isBlank()) {
            return "";
        }
        String oneLine = body.strip().replaceAll("\\s+", " ");
        return ": " + scrub(oneLine.length() > BODY_SNIPPET ? oneLine.substring(0, BODY_SNIPPET) + "..." : oneLine);
    }

    /** A server may echo the key (some 401 bodies do); nothing we log or throw may carry it. */
    private String scrub(String text) {
        return apiKey == null || text == null ? text : text.replace(apiKey, MASK);
    }

    private static URI chatCompletions(URI base) {
        String s = base.toString().replaceAll("/+$", "");
        return URI.create(s.endsWith("/chat/completions") ? s : s + "/chat/completions");
    }

    /** The endpoint without user info or query, either of which could hold a credential. */
    private static String display(URI uri) {
        return uri.getScheme() + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort())
                + uri.getRawPath();
    }

    @Override
    public String toString() {
        return "OpenAiChatModel[endpoint=" + displayEndpoint + ", model=" + model + ", apiKey="
                + (apiKey == null ? "none ($" + apiKeyEnv + " not set)" : MASK + " (from $" + apiKeyEnv + ")")
                + ", temperature=" + temperature + ", maxTokens=" + maxTokens + "]";
    }

    /** Settings for an {@link OpenAiChatModel}; {@link #baseUrl} and {@link #model} are required. */
    public static final class Builder {
        private URI baseUrl;
        private String model;
        private String apiKeyEnv = "OPENAI_API_KEY";
        private Function<String, String> environment = System::getenv;
        private double temperature = 0.0;
        private int maxTokens = 512;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration requestTimeout = Duration.ofSeconds(120);
        private int maxAttempts = 5;
        private Duration initialBackoff = Duration.ofSeconds(1);
        private Duration maxBackoff = Duration.ofSeconds(60);
        private Long jitterSeed;

        private Builder() {}

        /** E.g. {@code https://api.openai.com/v1} or {@code http://localhost:8000/v1}. */
        public Builder baseUrl(URI baseUrl) {
            this.baseUrl = Objects.requireNonNull(baseUrl, "baseUrl");
            return this;
        }

        public Builder baseUrl(String baseUrl) {
            return baseUrl(URI.create(Objects.requireNonNull(baseUrl, "baseUrl")));
        }

        /** The {@code model} field of the request, e.g. {@code gpt-4o-mini}. */
        public Builder model(String model) {
            this.model = Objects.requireNonNull(model, "model");
            return this;
        }

        /** The environment variable that holds the API key (default {@code OPENAI_API_KEY}). */
        public Builder apiKeyEnv(String name) {
            this.apiKeyEnv = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Where variables are looked up (default {@link System#getenv(String)}); for tests and embedding. */
        public Builder environment(Function<String, String> environment) {
            this.environment = Objects.requireNonNull(environment, "environment");
            return this;
        }

        /** Sampling temperature (default 0: a judge should be as repeatable as the endpoint allows). */
        public Builder temperature(double temperature) {
            this.temperature = temperature;
            return this;
        }

        /** {@code max_tokens} of the reply (default 512; the cookbook allows 500). */
        public Builder maxTokens(int maxTokens) {
            this.maxTokens = maxTokens;
            return this;
        }

        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** How long one attempt may wait for the response (default 120 s). */
        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** Attempts in all, the first included (default 5); 1 disables retries. */
        public Builder maxAttempts(int maxAttempts) {
            this.maxAttempts = maxAttempts;
            return this;
        }

        /** Back-off before the first retry (default 1 s), doubled for each further one, up to {@code max}. */
        public Builder backoff(Duration initial, Duration max) {
            this.initialBackoff = Objects.requireNonNull(initial, "initial");
            this.maxBackoff = Objects.requireNonNull(max, "max");
            return this;
        }

        /** Seeds the jitter so that the sequence of delays is reproducible. */
        public Builder jitterSeed(long seed) {
            this.jitterSeed = seed;
            return this;
        }

        public OpenAiChatModel build() {
            if (baseUrl == null || model == null) {
                throw new IllegalArgumentException("baseUrl and model are required");
            }
            String scheme = baseUrl.getScheme();
            if (!"http".equalsIgnoreCase(scheme) && !"https".equalsIgnoreCase(scheme) || baseUrl.getHost() == null) {
                throw new IllegalArgumentException("baseUrl must be an absolute http(s) URL with a host");
            }
            if (!(temperature >= 0) || maxTokens < 1 || maxAttempts < 1) {
                throw new IllegalArgumentException("need temperature >= 0, maxTokens >= 1, maxAttempts >= 1; got "
                        + temperature + ", " + maxTokens + ", " + maxAttempts);
            }
            if (requestTimeout.isNegative()
                    || requestTimeout.isZero()
                    || connectTimeout.isNegative()
                    || connectTimeout.isZero()
                    || initialBackoff.isNegative()
                    || maxBackoff.compareTo(initialBackoff) < 0) {
                throw new IllegalArgumentException(
                        "timeouts must be positive and 0 <= initial back-off <= max back-off");
            }
            return new OpenAiChatModel(this);
        }
    }
}
