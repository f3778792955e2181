package ai.medqa.server;

import ai.medqa.MedQA;
import ai.medqa.generate.BatchEngine;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every exchange's way in: security headers and the {@link RequestGuard}'s checks, the path to its
 * endpoint, the method it takes, the API key, and whether the model is loaded yet; a refusal or a
 * failure becomes OpenAI's error JSON, and each exchange is counted in the metrics.
 */
final class Router {
    private static final Logger log = LoggerFactory.getLogger(MedQAServer.class); // the server's log, as before

    private final ServerOptions options;
    private final RequestGuard guard;
    private final ServerMetrics metrics;
    private final CompletableFuture<MedQA> model;
    private final Supplier<BatchEngine> engine;
    private final ModelEndpoints models;
    private final Votes votes;
    private final Completions completions;

    Router(
            ServerOptions options,
            RequestGuard guard,
            ServerMetrics metrics,
            CompletableFuture<MedQA> model,
            Supplier<BatchEngine> engine,
            ModelEndpoints models,
            Votes votes,
            Completions completions) {
        this.options = options;
        this.guard = guard;
        this.metrics = metrics;
        this.model = model;
        this.engine = engine;
        this.models = models;
        this.votes = votes;
        this.completions = completions;
    }

    void handle(HttpExchange ex) {
        String path = path(ex);
        String endpoint = endpoint(path);
        int status = 500;
        try {
            securityHeaders(ex);
            if (guard.check(ex.getRequestMethod(), ex.getRequestHeaders(), ex.getResponseHeaders())) {
                ex.sendResponseHeaders(204, -1);
                status = 204;
            } else {
                status = route(ex, path);
            }
        } catch (ApiException e) {
            status = e.status;
            Exchanges.sendError(ex, e);
        } catch (IOException e) {
            // The client closed the connection or stopped reading: its business, not a server error.
            log.debug("{} {}: client connection lost", ex.getRequestMethod(), path, e);
            status = 499; // nginx's "client closed request"
        } catch (Exception | Error e) {
            log.error("{} {} failed", ex.getRequestMethod(), path, e);
            status = 500;
            Exchanges.sendError(ex, ApiException.internal("internal error: " + e.getMessage()));
        } finally {
            metrics.request(endpoint, status);
            ex.close();
        }
    }

    /**
     * The request's path as sent. A target such as {@code //v1/chat/completions} parses as a URI with
     * authority {@code v1}; it is put back together so that it is refused as the path it is.
     */
    private static String path(HttpExchange ex) {
        URI uri = ex.getRequestURI();
        String raw = uri.getPath() == null ? "" : uri.getPath();
        if (uri.getScheme() == null && uri.getRawAuthority() != null) {
            raw = "//" + uri.getRawAuthority() + raw;
        }
        return raw.isEmpty() ? "/" : raw;
    }

    /** On every response: no MIME sniffing, no framing by other sites, no Referer leaving the page. */
    private static void securityHeaders(HttpExchange ex) {
        Headers h = ex.getResponseHeaders();
        h.set("X-Content-Type-Options", "nosniff");
        h.set("X-Frame-Options", "DENY");
        h.set("Referrer-Policy", "no-referrer");
    }

    /** The metrics' name for the path: a few fixed ones, so that clients cannot grow the label set. */
    private static String endpoint(String path) {
        return switch (path) {
            case "/v1/chat/completions",
                    "/v1/completions",
                    "/v1/models",
                    "/v1/feedback",
                    "/v1/adapters",
                    "/health",
                    "/metrics" -> path;
            default ->
                path.startsWith("/v1/models/")
                        ? "/v1/models/{id}"
                        : path.startsWith("/v1/adapters/")
                                ? "/v1/adapters/{name}"
                                : path.startsWith("/v1/") ? "/v1/other" : "/page";
        };
    }

    private int route(HttpExchange ex, String path) throws IOException {
        String method = ex.getRequestMethod();
        if (path.equals("/health")) {
            requireMethod(ex, "GET");
            return health(ex);
        }
        String page = StaticPages.file(path);
        if (page != null) {
            requireMethod(ex, "GET");
            return StaticPages.send(ex, page);
        }
        if (path.equals("/favicon.ico")) {
            requireMethod(ex, "GET");
            ex.sendResponseHeaders(204, -1); // no icon; a 404 would be logged by every browser
            return 204;
        }
        if (!path.startsWith("/v1/") && !path.equals("/metrics")) {
            throw ApiException.notFound("not_found", null, "no such path: " + path);
        }
        authorize(ex);
        if (path.equals("/metrics")) {
            requireMethod(ex, "GET");
            return Exchanges.send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render(engine.get()));
        }
        if (path.equals("/v1/feedback")) {
            requireMethod(ex, "POST");
            return votes.vote(ex);
        }
        MedQA medqa = loaded();
        if (path.equals("/v1/adapters")) {
            requireMethod(ex, "POST");
            return models.addAdapter(ex, medqa);
        }
        if (path.startsWith("/v1/adapters/")) {
            if (!method.equals("DELETE")) {
                throw ApiException.methodNotAllowed("use DELETE, not " + method, "DELETE");
            }
            return models.removeAdapter(ex, medqa, path.substring("/v1/adapters/".length())); // getPath() is decoded
        }
        if (path.startsWith("/v1/models/")) {
            requireMethod(ex, "GET");
            return models.model(ex, medqa, path.substring("/v1/models/".length()));
        }
        return switch (path) {
            case "/v1/models" -> {
                requireMethod(ex, "GET");
                yield models.models(ex, medqa);
            }
            case "/v1/chat/completions" -> {
                requireMethod(ex, "POST");
                yield completions.complete(ex, medqa, true);
            }
            case "/v1/completions" -> {
                requireMethod(ex, "POST");
                yield completions.complete(ex, medqa, false);
            }
            default -> throw ApiException.notFound("not_found", null, "no such endpoint: " + path);
        };
    }

    /** GET routes answer HEAD too (headers only); a POST must carry a JSON body. */
    private static void requireMethod(HttpExchange ex, String expected) {
        String method = ex.getRequestMethod();
        if (method.equals(expected) || (expected.equals("GET") && method.equals("HEAD"))) {
            if (method.equals("POST")) {
                RequestGuard.requireJson(ex.getRequestHeaders());
            }
            return;
        }
        throw ApiException.methodNotAllowed(
                "use " + expected + ", not " + method, expected.equals("GET") ? "GET, HEAD" : expected);
    }

    private void authorize(HttpExchange ex) {
        if (options.apiKey() == null) {
            return;
        }
        String header = ex.getRequestHeaders().getFirst("Authorization");
        String given = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
                ? header.substring(7).trim()
                : "";
        if (!MessageDigest.isEqual(
                given.getBytes(StandardCharsets.UTF_8), options.apiKey().getBytes(StandardCharsets.UTF_8))) {
            throw ApiException.unauthorized(
                    header == null
                            ? "this server needs an API key: send Authorization: Bearer KEY"
                            : "incorrect API key");
        }
    }

    private MedQA loaded() {
        if (model.isCompletedExceptionally()) {
            throw ApiException.unavailable("load_failed", "the model failed to load");
        }
        if (!model.isDone()) {
            throw ApiException.unavailable("loading", "the model is still loading", 5);
        }
        return model.join();
    }

    private int health(HttpExchange ex) throws IOException {
        if (model.isCompletedExceptionally()) {
            return Exchanges.send(ex, 500, "application/json", "{\"status\":\"failed\"}");
        }
        return model.isDone()
                ? Exchanges.send(ex, 200, "application/json", "{\"status\":\"ok\"}")
                : Exchanges.send(ex, 503, "application/json", "{\"status\":\"loading\"}");
    }
}
