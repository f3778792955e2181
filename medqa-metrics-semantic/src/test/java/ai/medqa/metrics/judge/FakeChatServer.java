package ai.medqa.metrics.judge;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A loopback server speaking the chat-completions protocol: it answers scripted replies in order (a
 * status, headers, a body, an optional delay, or a dropped connection), then a default judge reply,
 * and records every request it receives.
 */
final class FakeChatServer implements AutoCloseable {
    static final String DEFAULT_REPLY = "Evaluation: Correct and complete.\nTotal rating: 3";

    record Reply(int status, Map<String, String> headers, String body, long delayMillis, boolean drop) {
        static Reply ok(String content) {
            return new Reply(200, Map.of(), completion(content), 0, false);
        }

        static Reply status(int status, String body) {
            return new Reply(status, Map.of(), body, 0, false);
        }

        static Reply slow(long delayMillis) {
            return new Reply(200, Map.of(), completion(DEFAULT_REPLY), delayMillis, false);
        }

        static Reply dropConnection() {
            return new Reply(0, Map.of(), "", 0, true);
        }

        Reply withHeader(String name, String value) {
            return new Reply(status, Map.of(name, value), body, delayMillis, drop);
        }
    }

    record Request(String method, String path, Map<String, List<String>> headers, String body) {
        String header(String name) {
            return headers.entrySet().stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(e -> e.getValue().get(0))
                    .findFirst()
                    .orElse(null);
        }
    }

    private final HttpServer server;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fake-chat-server");
        t.setDaemon(true);
        return t;
    });
    private final ConcurrentLinkedQueue<Reply> script = new ConcurrentLinkedQueue<>();
    final List<Request> requests = new CopyOnWriteArrayList<>();

    FakeChatServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        // Several threads: a handler sleeping past the client's timeout must not block the retry.
        server.setExecutor(pool);
        server.start();
    }

    /** The base URL a client is configured with, e.g. {@code http://127.0.0.1:PORT/v1}. */
    String baseUrl() {
        return "http://" + server.getAddress().getAddress().getHostAddress() + ":"
                + server.getAddress().getPort() + "/v1";
    }

    FakeChatServer then(Reply... replies) {
        script.addAll(List.of(replies));
        return this;
    }

    static String completion(String content) {
        String escaped = content.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
        return "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"judge\","
                + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" + escaped + "\"},"
                + "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":10,\"total_tokens\":20}}";
    }

    private void handle(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        requests.add(new Request(
                ex.getRequestMethod(), ex.getRequestURI().getPath(), Map.copyOf(ex.getRequestHeaders()), body));
        Reply reply = script.poll();
        if (reply == null) {
            reply = Reply.ok(DEFAULT_REPLY);
        }
        try {
            if (reply.drop()) {
                return; // closing without a status line: the client sees an I/O error
            }
            if (reply.delayMillis() > 0) {
                Thread.sleep(reply.delayMillis());
            }
            byte[] bytes = reply.body().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            reply.headers().forEach((k, v) -> ex.getResponseHeaders().set(k, v));
            ex.sendResponseHeaders(reply.status(), bytes.length == 0 ? -1 : bytes.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(bytes);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException clientGone) {
            // the client timed out and closed the connection; nothing to answer
        } finally {
            ex.close();
        }
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
