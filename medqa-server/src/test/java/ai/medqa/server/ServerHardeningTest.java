package ai.medqa.server;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.MedQA;
import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a browser on another site, a rebinding DNS name, a slow or careless client can do to a
 * server started with the defaults (loopback, no key), over raw HTTP/1.1 so that every header
 * (Host, Origin, Content-Type) is exactly what the attacker's browser or tool would send.
 */
class ServerHardeningTest {
    @TempDir
    static Path dir;

    static MedQA medqa;
    static MedQAServer server;
    static Path votes;

    @BeforeAll
    static void start() throws Exception {
        TinyServerModel.write(dir, 8192);
        medqa = TinyServerModel.load(dir);
        votes = dir.resolve("feedback.jsonl");
        server = MedQAServer.start(
                ServerOptions.defaults("tiny").withPort(0).withFeedback(votes).withLimits(8, 16, 64 * 1024), medqa);
    }

    @AfterAll
    static void stop() {
        server.close();
        medqa.close();
    }

    /** One HTTP/1.1 exchange on a fresh connection: status line, headers (lower-case names), body. */
    record Reply(int status, Map<String, String> headers, String body) {
        JsonNode json() throws IOException {
            return Json.MAPPER.readTree(body);
        }
    }

    static Reply send(MedQAServer s, String method, String path, Map<String, String> headers, byte[] body)
            throws IOException {
        try (Socket socket = new Socket("127.0.0.1", s.port())) {
            socket.setSoTimeout(30_000);
            StringBuilder req = new StringBuilder(method + " " + path + " HTTP/1.1\r\n");
            if (!headers.containsKey("Host")) {
                req.append("Host: 127.0.0.1:").append(s.port()).append("\r\n");
            }
            headers.forEach((k, v) -> req.append(k).append(": ").append(v).append("\r\n"));
            if (body != null) {
                req.append("Content-Length: ").append(body.length).append("\r\n");
            }
            req.append("Connection: close\r\n\r\n");
            OutputStream out = socket.getOutputStream();
            out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
            if (body != null) {
                out.write(body);
            }
            out.flush();
            byte[] all = readAll(socket.getInputStream());
            String text = new String(all, StandardCharsets.UTF_8);
            int end = text.indexOf("\r\n\r\n");
            String[] lines = text.substring(0, end).split("\r\n");
            Map<String, String> h = new java.util.HashMap<>();
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                h.put(
                        lines[i].substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT),
                        lines[i].substring(colon + 1).trim());
            }
            String rest = text.substring(end + 4);
            if ("chunked".equalsIgnoreCase(h.get("transfer-encoding"))) {
                rest = unchunk(rest);
            }
            return new Reply(Integer.parseInt(lines[0].split(" ")[1]), h, rest);
        }
    }

    static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        in.transferTo(b);
        return b.toByteArray();
    }

    static String unchunk(String s) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < s.length()) {
            int eol = s.indexOf("\r\n", i);
            int n = Integer.parseInt(s.substring(i, eol).trim(), 16);
            if (n == 0) {
                break;
            }
            out.append(s, eol + 2, eol + 2 + n);
            i = eol + 2 + n + 2;
        }
        return out.toString();
    }

    /** A vote on a fresh completion of {@code s}; {@code padding} adds that many bytes of an ignored field. */
    static byte[] vote(MedQAServer s, int padding) throws IOException {
        Reply done = send(
                s,
                "POST",
                "/v1/chat/completions",
                Map.of("Content-Type", "application/json"),
                "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}], \"max_tokens\": 2}".getBytes());
        assertThat(done.status()).as(done.body()).isEqualTo(200);
        ObjectNode v = Json.MAPPER
                .createObjectNode()
                .put("vote", "like")
                .put("completion_id", done.json().get("id").asText());
        if (padding > 0) {
            v.put("padding", "x".repeat(padding));
        }
        return v.toString().getBytes(StandardCharsets.UTF_8);
    }

    static long voteLines() throws IOException {
        return Files.exists(votes) ? Files.readAllLines(votes).size() : 0;
    }

    @Test
    void aPageOnAnotherSiteCannotWriteVotesOrCallTheApi() throws Exception {
        long before = voteLines();
        // fetch(url, {mode: "no-cors", body}) from evil.example: text/plain, Origin set.
        byte[] vote = vote(server, 0);
        Reply noCors = send(
                server,
                "POST",
                "/v1/feedback",
                Map.of("Origin", "http://evil.example", "Content-Type", "text/plain;charset=UTF-8"),
                vote);
        assertThat(noCors.status()).isEqualTo(403);
        assertThat(noCors.json().at("/error/message").asText())
                .contains("origin \"http://evil.example\"", "--allowed-origins");
        // A cross-site form (no Origin from an old browser): form-encoded, refused for its type.
        Reply form =
                send(server, "POST", "/v1/feedback", Map.of("Content-Type", "application/x-www-form-urlencoded"), vote);
        assertThat(form.status()).isEqualTo(415);
        assertThat(form.json().at("/error/message").asText()).contains("Content-Type: application/json");
        Reply chat = send(
                server,
                "POST",
                "/v1/chat/completions",
                Map.of("Origin", "https://evil.example", "Content-Type", "application/json"),
                "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}".getBytes());
        assertThat(chat.status()).isEqualTo(403);
        assertThat(voteLines()).isEqualTo(before);
        // The chat page itself (same origin) still votes.
        Reply own = send(
                server,
                "POST",
                "/v1/feedback",
                Map.of("Origin", "http://127.0.0.1:" + server.port(), "Content-Type", "application/json"),
                vote);
        assertThat(own.status()).isEqualTo(200);
        assertThat(voteLines()).isEqualTo(before + 1);
    }

    @Test
    void aRebindingHostNameIsRefusedWhileIpsAndLocalhostAreServed() throws Exception {
        Reply rebound = send(server, "GET", "/v1/models", Map.of("Host", "attacker.example:" + server.port()), null);
        assertThat(rebound.status()).isEqualTo(403);
        assertThat(rebound.json().at("/error/message").asText()).contains("--allowed-hosts attacker.example");
        assertThat(send(server, "GET", "/metrics", Map.of("Host", "attacker.example"), null)
                        .status())
                .isEqualTo(403);
        for (String host : new String[] {
            "localhost:" + server.port(),
            "127.0.0.1:" + server.port(),
            "[::1]:" + server.port(),
            "app.localhost",
            "10.1.2.3"
        }) {
            assertThat(send(server, "GET", "/v1/models", Map.of("Host", host), null)
                            .status())
                    .as(host)
                    .isEqualTo(200);
        }
        try (MedQAServer open = MedQAServer.start(
                ServerOptions.defaults("tiny")
                        .withPort(0)
                        .withAllowed(List.of(".example.org"), List.of("https://app.example.org")),
                medqa)) {
            assertThat(send(open, "GET", "/v1/models", Map.of("Host", "api.example.org"), null)
                            .status())
                    .isEqualTo(200);
            assertThat(send(open, "GET", "/v1/models", Map.of("Host", "example.org.evil"), null)
                            .status())
                    .isEqualTo(403);
            // An allowed origin gets CORS: the preflight, then the request with its Allow-Origin.
            Reply preflight = send(
                    open,
                    "OPTIONS",
                    "/v1/chat/completions",
                    Map.of(
                            "Origin",
                            "https://app.example.org",
                            "Access-Control-Request-Method",
                            "POST",
                            "Access-Control-Request-Headers",
                            "content-type"),
                    null);
            assertThat(preflight.status()).isEqualTo(204);
            assertThat(preflight.headers())
                    .containsEntry("access-control-allow-origin", "https://app.example.org")
                    .containsKey("access-control-allow-headers");
            Reply models = send(open, "GET", "/v1/models", Map.of("Origin", "https://app.example.org"), null);
            assertThat(models.status()).isEqualTo(200);
            assertThat(models.headers()).containsEntry("access-control-allow-origin", "https://app.example.org");
            assertThat(send(open, "GET", "/v1/models", Map.of("Origin", "https://other.example.org"), null)
                            .status())
                    .isEqualTo(403);
        }
        assertThat(org.assertj.core.api.Assertions.catchThrowable(
                        () -> ServerOptions.defaults("x").withAllowed(List.of(), List.of("app.example.org"))))
                .hasMessageContaining("scheme://host");
    }

    @Test
    void votesAreCappedInSizeAndRate() throws Exception {
        Reply big = send(
                server,
                "POST",
                "/v1/feedback",
                Map.of("Content-Type", "application/json"),
                vote(server, MedQAServer.MAX_VOTE_BYTES));
        assertThat(big.status()).isEqualTo(413);
        assertThat(big.json().at("/error/message").asText()).contains(Integer.toString(MedQAServer.MAX_VOTE_BYTES));
        try (MedQAServer fresh = MedQAServer.start(
                ServerOptions.defaults("tiny").withPort(0).withFeedback(dir.resolve("rate.jsonl")), medqa)) {
            int ok = 0;
            Reply last = null;
            byte[] one = vote(fresh, 0);
            for (int i = 0; i < MedQAServer.VOTES_PER_MINUTE + 5; i++) {
                last = send(fresh, "POST", "/v1/feedback", Map.of("Content-Type", "application/json"), one);
                ok += last.status() == 200 ? 1 : 0;
            }
            assertThat(ok).isEqualTo(MedQAServer.VOTES_PER_MINUTE);
            assertThat(last.status()).isEqualTo(429);
            assertThat(Long.parseLong(last.headers().get("retry-after"))).isBetween(1L, 60L);
            assertThat(Files.readAllLines(dir.resolve("rate.jsonl"))).hasSize(MedQAServer.VOTES_PER_MINUTE);
        }
    }

    @Test
    void aBodyOverTheLimitGets413WithItsErrorBody() throws Exception {
        byte[] huge = ("{\"prompt\": \"" + "a".repeat(300 * 1024) + "\"}").getBytes(StandardCharsets.UTF_8);
        Reply r = send(server, "POST", "/v1/completions", Map.of("Content-Type", "application/json"), huge);
        assertThat(r.status()).isEqualTo(413);
        assertThat(r.json().at("/error/code").asText()).isEqualTo("body_too_large");
        assertThat(r.json().at("/error/message").asText()).contains("65536 bytes (--max-body)");
    }

    @Test
    void aMalformedChunkedBodyGets400() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream()
                    .write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                                    + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{\"prompt\": \"hi\"}\r\n0\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            String reply = new String(readAll(socket.getInputStream()), StandardCharsets.UTF_8);
            assertThat(reply).startsWith("HTTP/1.1 400").contains("the request body could not be read");
        }
    }

    @Test
    void unsupportedParametersAreRefusedByName() throws Exception {
        String[][] cases = {
            {"\"logit_bias\": {\"5\": 10}, \"function_call\": \"auto\"", "logit_bias, function_call"},
            {"\"presence_penalty\": 0.5", "presence_penalty"},
        };
        for (String[] c : cases) {
            Reply r = send(
                    server,
                    "POST",
                    "/v1/chat/completions",
                    Map.of("Content-Type", "application/json"),
                    ("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], " + c[0] + "}").getBytes());
            assertThat(r.status()).as(c[0]).isEqualTo(400);
            assertThat(r.json().at("/error/message").asText()).startsWith(c[1] + ": not supported");
            assertThat(r.json().at("/error/code").asText()).isEqualTo("unsupported_parameter");
        }
        // Their no-op values pass, as SDKs send them.
        Reply noop = send(
                server,
                "POST",
                "/v1/chat/completions",
                Map.of("Content-Type", "application/json"),
                ("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 2, \"logprobs\": false, "
                                + "\"response_format\": {\"type\": \"text\"}, \"tools\": []}")
                        .getBytes());
        assertThat(noop.status()).as(noop.body()).isEqualTo(200);
        Reply tool = send(
                server,
                "POST",
                "/v1/chat/completions",
                Map.of("Content-Type", "application/json"),
                "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"tool\", \"content\": null}]}"
                        .getBytes());
        assertThat(tool.status()).isEqualTo(400);
        assertThat(tool.json().at("/error/message").asText()).contains("messages[1].tool_call_id: is required");
    }

    @Test
    void headFaviconModelRetrieveOddPathsAndSecurityHeaders() throws Exception {
        Reply head = send(server, "HEAD", "/health", Map.of(), null);
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
        assertThat(send(server, "HEAD", "/", Map.of(), null).status()).isEqualTo(200);
        assertThat(send(server, "GET", "/favicon.ico", Map.of(), null).status()).isEqualTo(204);
        Reply one = send(server, "GET", "/v1/models/tiny", Map.of(), null);
        assertThat(one.status()).isEqualTo(200);
        assertThat(one.json().get("id").asText()).isEqualTo("tiny");
        assertThat(send(server, "GET", "/v1/models/nope", Map.of(), null).status())
                .isEqualTo(404);
        Reply doubled = send(
                server,
                "POST",
                "//v1/chat/completions",
                Map.of("Content-Type", "application/json"),
                "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}".getBytes());
        assertThat(doubled.status()).isEqualTo(404);
        assertThat(doubled.json().at("/error/message").asText()).contains("//v1/chat/completions");
        Reply page = send(server, "GET", "/", Map.of(), null);
        assertThat(page.headers())
                .containsEntry("x-content-type-options", "nosniff")
                .containsEntry("x-frame-options", "DENY")
                .containsEntry("referrer-policy", "no-referrer");
        assertThat(page.headers().get("content-security-policy")).contains("frame-ancestors 'none'");
        String metrics = send(server, "GET", "/metrics", Map.of(), null).body();
        assertThat(metrics).contains("endpoint=\"/health\",status=\"200\"").doesNotContain("status=\"500\"");
    }

    /**
     * Many clients sending their headers a byte at a time hold at most the bounded pool's threads, and
     * a normal request is still answered meanwhile.
     */
    @Test
    void slowClientsLeaveTheThreadCountBoundedAndOthersServed() throws Exception {
        int baseline = Thread.activeCount();
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 200; i++) {
                Socket s = new Socket("127.0.0.1", server.port());
                s.getOutputStream().write("GET /v1/models HTTP/1.1\r\nHo".getBytes(StandardCharsets.US_ASCII));
                slow.add(s);
            }
            Thread.sleep(1000);
            for (Socket s : slow) {
                s.getOutputStream().write('s');
            }
            long start = System.nanoTime();
            Reply normal = send(server, "GET", "/v1/models", Map.of(), null);
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(normal.status()).isEqualTo(200);
            System.out.printf(
                    "[figure] with 200 slow clients: a normal request took %.3f s, %d threads (baseline %d)%n",
                    seconds, Thread.activeCount(), baseline);
            assertThat(Thread.activeCount())
                    .isLessThanOrEqualTo(baseline
                            + MedQAServer.handlerThreads(
                                    ServerOptions.defaults("tiny").withLimits(8, 16, 64 * 1024))
                            + 8);
        } finally {
            for (Socket s : slow) {
                s.close();
            }
        }
    }

    /** The JDK server's switches behind TCP_NODELAY and the request deadline are set (its timing is in the README). */
    @Test
    void nagleIsOffAndRequestsHaveADeadline() {
        assertThat(System.getProperty("sun.net.httpserver.nodelay")).isEqualTo("true");
        assertThat(System.getProperty("sun.net.httpserver.maxReqTime"))
                .isEqualTo(Integer.toString(MedQAServer.REQUEST_SECONDS));
    }
}
