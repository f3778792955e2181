package ai.medqa.server;

import ai.medqa.MedQA;
import ai.medqa.chat.ChatTemplateException;
import ai.medqa.chat.ToolStream;
import ai.medqa.chat.Tools;
import ai.medqa.common.Json;
import ai.medqa.generate.BatchEngine;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.Generator;
import ai.medqa.generate.StopReason;
import ai.medqa.generate.TokenLogprob;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An OpenAI-compatible HTTP server over one {@link MedQA}, as llama.cpp's server and vLLM expose
 * models: {@code /v1/chat/completions}, {@code /v1/completions} (both also as Server-Sent Events),
 * {@code /v1/models} (the base model and each LoRA adapter, chosen per request by {@code model}),
 * {@code /health}, {@code /metrics}, and the chat page at {@code /}.
 *
 * <p>Requests are decoded together by a {@link BatchEngine}: a new request joins the running batch
 * at the next step. The server listens before the model is loaded ({@code /health} answers 503
 * "loading" meanwhile), so that orchestrators can tell loading from dead.
 *
 * <p>Browsers on other sites are kept out ({@link RequestGuard}: Host, Origin, JSON bodies). Each
 * connection is served by one of a bounded pool of threads; a request's headers and body must
 * arrive within {@value #REQUEST_SECONDS} s (slow or stalled clients are cut off), and responses go
 * out without Nagle's delay. The last two are JVM-wide properties of the JDK's HTTP server, set
 * here only when the application has not set them and read once, when the first server of the
 * process starts.
 */
public final class MedQAServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MedQAServer.class);
    private static final Set<String> PAGES = Set.of("index.html", "app.js", "style.css");
    /** Seconds a client has to send a request's headers and body. */
    static final int REQUEST_SECONDS = 20;
    /** Largest vote body, and votes accepted per minute: the feedback file is training data. */
    static final int MAX_VOTE_BYTES = 64 * 1024;

    static final int VOTES_PER_MINUTE = 60;

    static {
        // Without TCP_NODELAY a kept-alive connection waits ~40 ms per response (Nagle + delayed ACK).
        setIfAbsent("sun.net.httpserver.nodelay", "true");
        setIfAbsent("sun.net.httpserver.maxReqTime", Integer.toString(REQUEST_SECONDS));
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    private final ServerOptions options;
    private final HttpServer http;
    private final ExecutorService handlers;
    private final ServerMetrics metrics = new ServerMetrics();
    private final CompletableFuture<MedQA> model = new CompletableFuture<>();
    private final FeedbackLog feedback;
    private final RequestGuard guard;
    private final RateLimit votes = new RateLimit(VOTES_PER_MINUTE, Duration.ofMinutes(1));
    private final CompletionRecords completions = new CompletionRecords();
    /** Adapters being removed: hidden from new requests, freed when no request uses them. */
    private final Set<String> retiring = ConcurrentHashMap.newKeySet();

    private volatile BatchEngine engine;
    private volatile boolean ownsModel;
    private boolean closed; // guarded by this
    /** Tests only: a pause after each streamed piece, so a browser can watch an answer grow. */
    volatile Duration pieceDelay = Duration.ZERO;

    private MedQAServer(ServerOptions options) throws IOException {
        this.options = options;
        this.guard = new RequestGuard(options.host(), options.allowedHosts(), options.allowedOrigins());
        try {
            this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 64);
        } catch (BindException e) {
            throw new BindException("cannot listen on " + options.host() + ":" + options.port() + ": " + e.getMessage()
                    + " (another server on that port? choose another one)");
        }
        try {
            this.feedback = options.feedback() == null ? null : new FeedbackLog(options.feedback());
        } catch (IOException | RuntimeException e) {
            http.stop(0);
            throw e;
        }
        this.handlers = handlerPool(options);
        http.setExecutor(handlers);
        http.createContext("/", this::handle);
        http.start();
        log.info(
                "listening on http://{}:{}/ ({})",
                options.host(),
                port(),
                options.apiKey() == null ? "no API key" : "API key required");
        if (!isLoopback(options.host()) && options.apiKey() == null) {
            log.warn(
                    "serving on {} without an API key: anyone who reaches this port can use the model", options.host());
        }
    }

    /**
     * One thread per exchange (a streaming response holds its thread until the answer ends; the JDK
     * server reads a request's headers on it too), at most {@link #handlerThreads} of them; idle ones
     * end after 30 s. Past that, connections wait in a queue of 1,024, and past that they are closed.
     */
    private static ExecutorService handlerPool(ServerOptions options) {
        int threads = handlerThreads(options);
        ThreadPoolExecutor pool =
                new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1024), r -> {
                    Thread t = new Thread(null, r, "medqa-http", 512 * 1024);
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    /** Every row and waiting request streaming at once, plus room for slow clients and short requests. */
    static int handlerThreads(ServerOptions options) {
        return Math.min(1024, options.maxBatch() + options.maxQueue() + 256);
    }

    /** Starts listening now and loads the model in the background; the server closes the model when it closes. */
    public static MedQAServer start(ServerOptions options, Callable<MedQA> loader) throws IOException {
        MedQAServer server = new MedQAServer(options);
        server.ownsModel = true;
        Thread t = new Thread(
                () -> {
                    try {
                        server.ready(loader.call());
                    } catch (Exception | Error e) {
                        log.error("loading the model failed", e);
                        server.model.completeExceptionally(e);
                    }
                },
                "medqa-load");
        t.setDaemon(true);
        t.start();
        return server;
    }

    /** Serves a loaded model; the caller closes it after the server. */
    public static MedQAServer start(ServerOptions options, MedQA medqa) throws IOException {
        MedQAServer server = new MedQAServer(options);
        server.ready(medqa);
        return server;
    }

    private void ready(MedQA medqa) {
        synchronized (this) {
            if (closed) { // closed while the model was loading
                if (ownsModel) {
                    medqa.close();
                }
                model.completeExceptionally(new IllegalStateException("the server was closed"));
                return;
            }
            engine = medqa.newEngine(options.maxBatch(), options.maxQueue());
        }
        model.complete(medqa);
        log.info("ready: model {}, adapters {}", options.servedModelName(), medqa.adapters());
    }

    /** Waits until the model is loaded (or its loading failed). */
    public MedQA awaitReady(Duration timeout) throws Exception {
        try {
            return model.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception c ? c : e;
        }
    }

    /** The port listened on (the one chosen when the options asked for 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    /** The server's base address, e.g. {@code http://127.0.0.1:8080}. */
    public String url() {
        return "http://" + options.host() + ":" + port();
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        http.stop(0);
        handlers.shutdownNow();
        if (engine != null) {
            engine.close();
        }
        if (ownsModel && model.isDone() && !model.isCompletedExceptionally()) {
            model.join().close();
        }
        if (feedback != null) {
            try {
                feedback.close();
            } catch (IOException e) {
                log.warn("closing the feedback file {}", feedback.file(), e);
            }
        }
    }

    // ---- routing ----

    private void handle(HttpExchange ex) {
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
            sendError(ex, e);
        } catch (IOException e) {
            // The client closed the connection or stopped reading: its business, not a server error.
            log.debug("{} {}: client connection lost", ex.getRequestMethod(), path, e);
            status = 499; // nginx's "client closed request"
        } catch (Exception | Error e) {
            log.error("{} {} failed", ex.getRequestMethod(), path, e);
            status = 500;
            sendError(ex, ApiException.internal("internal error: " + e.getMessage()));
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
        if (path.equals("/") || (path.startsWith("/") && PAGES.contains(path.substring(1)))) {
            requireMethod(ex, "GET");
            return page(ex, path.equals("/") ? "index.html" : path.substring(1));
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
            return send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render(engine));
        }
        if (path.equals("/v1/feedback")) {
            requireMethod(ex, "POST");
            return feedback(ex);
        }
        MedQA medqa = loaded();
        if (path.equals("/v1/adapters")) {
            requireMethod(ex, "POST");
            return addAdapter(ex, medqa);
        }
        if (path.startsWith("/v1/adapters/")) {
            if (!method.equals("DELETE")) {
                throw ApiException.methodNotAllowed("use DELETE, not " + method, "DELETE");
            }
            return removeAdapter(ex, medqa, path.substring("/v1/adapters/".length())); // getPath() is decoded
        }
        if (path.startsWith("/v1/models/")) {
            requireMethod(ex, "GET");
            return model(ex, medqa, path.substring("/v1/models/".length()));
        }
        return switch (path) {
            case "/v1/models" -> {
                requireMethod(ex, "GET");
                yield models(ex, medqa);
            }
            case "/v1/chat/completions" -> {
                requireMethod(ex, "POST");
                yield complete(ex, medqa, true);
            }
            case "/v1/completions" -> {
                requireMethod(ex, "POST");
                yield complete(ex, medqa, false);
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

    // ---- endpoints ----

    private int health(HttpExchange ex) throws IOException {
        if (model.isCompletedExceptionally()) {
            return send(ex, 500, "application/json", "{\"status\":\"failed\"}");
        }
        return model.isDone()
                ? send(ex, 200, "application/json", "{\"status\":\"ok\"}")
                : send(ex, 503, "application/json", "{\"status\":\"loading\"}");
    }

    private int page(HttpExchange ex, String name) throws IOException {
        try (InputStream in = MedQAServer.class.getResourceAsStream("static/" + name)) {
            if (in == null) {
                throw ApiException.notFound("not_found", null, "no page " + name);
            }
            byte[] body = in.readAllBytes();
            String type = name.endsWith(".html")
                    ? "text/html; charset=utf-8"
                    : name.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8";
            ex.getResponseHeaders()
                    .set(
                            "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; "
                                    + "style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'");
            return send(ex, 200, type, body);
        }
    }

    private int models(HttpExchange ex, MedQA medqa) throws IOException {
        ObjectNode out = Json.MAPPER.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        data.add(modelEntry(medqa, options.servedModelName()));
        for (String adapter : adapters(medqa)) {
            data.add(modelEntry(medqa, adapter));
        }
        return sendJson(ex, 200, out);
    }

    /** The adapters requests may name: those loaded, less those being removed. */
    private Set<String> adapters(MedQA medqa) {
        Set<String> names = new LinkedHashSet<>(medqa.adapters());
        names.removeAll(retiring);
        return names;
    }

    /**
     * {@code POST /v1/adapters {"name", "path"}}: loads the PEFT adapter in {@code path} (a folder
     * under {@code --adapters-dir}, absolute or relative to it) as {@code name}, between two decode
     * steps; requests may name it as their model at once. A name in use is refused (remove the old
     * one first); a bad folder is refused naming the file or field, and nothing changes.
     */
    private int addAdapter(HttpExchange ex, MedQA medqa) throws IOException {
        Path root = adaptersRoot();
        JsonNode body = readJson(ex);
        String name = body.path("name").asText("");
        if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw ApiException.invalid(
                    "name",
                    "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or " + "digit, got "
                            + body.get("name"));
        }
        if (name.equals(options.servedModelName()) || medqa.adapters().contains(name)) {
            throw ApiException.conflict(
                    "name_in_use",
                    "name",
                    "the name " + name + " is in use"
                            + (retiring.contains(name) ? " (its adapter is being removed)" : "")
                            + "; DELETE /v1/adapters/" + name + " first, or choose another");
        }
        if (!body.path("path").isTextual() || body.get("path").asText().isBlank()) {
            throw ApiException.invalid("path", "must be the adapter's folder under " + root);
        }
        Path dir;
        try {
            dir = root.resolve(body.get("path").asText()).toRealPath();
        } catch (IOException | InvalidPathException e) {
            throw ApiException.invalid(
                    "path",
                    "no such folder under " + root + ": " + body.get("path").asText());
        }
        if (!dir.startsWith(root) || dir.equals(root) || !Files.isDirectory(dir)) {
            throw ApiException.invalid(
                    "path",
                    "must be a folder under " + root + " (--adapters-dir), got "
                            + body.get("path").asText());
        }
        try {
            engine.betweenSteps(() -> {
                        medqa.addAdapter(name, dir);
                        return null;
                    })
                    .get(5, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw ApiException.invalid("path", "adapter " + name + " from " + dir + " refused: " + c.getMessage());
        } catch (InterruptedException | TimeoutException e) {
            throw ApiException.unavailable("busy", "the adapter could not be loaded in time");
        }
        log.info("adapter {} loaded from {}", name, dir);
        return sendJson(
                ex,
                200,
                Json.MAPPER
                        .createObjectNode()
                        .put("status", "loaded")
                        .put("name", name)
                        .put("path", dir.toString()));
    }

    /**
     * {@code DELETE /v1/adapters/{name}}: new requests can no longer name it at once; requests already
     * decoding with it finish with it, and it is freed after the last (200 when that is at once, 202
     * while some still run).
     */
    private int removeAdapter(HttpExchange ex, MedQA medqa, String name) throws IOException {
        adaptersRoot();
        drain(ex);
        if (!medqa.adapters().contains(name) || !retiring.add(name)) {
            throw ApiException.notFound(
                    "model_not_found",
                    "name",
                    "no adapter " + name + " is loaded" + (retiring.contains(name) ? " (it is being removed)" : ""));
        }
        boolean removed;
        try {
            removed = retire(medqa, name).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException(
                    "removing adapter " + name + ": " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException | TimeoutException e) {
            removed = false;
        }
        return sendJson(
                ex,
                removed ? 200 : 202,
                Json.MAPPER
                        .createObjectNode()
                        .put("status", removed ? "removed" : "removing")
                        .put("name", name));
    }

    /** Removes {@code name} between steps once no request uses it; true if that was at the first try. */
    private CompletableFuture<Boolean> retire(MedQA medqa, String name) {
        return engine.betweenSteps(() -> {
            if (engine.inUse(name)) {
                // Try again after the rows using it have moved on (a later step), without blocking this one.
                CompletableFuture.delayedExecutor(100, TimeUnit.MILLISECONDS).execute(() -> retire(medqa, name));
                return false;
            }
            try {
                medqa.removeAdapter(name);
            } catch (RuntimeException e) {
                log.error("removing adapter {} failed; it stays loaded", name, e);
                throw e;
            } finally {
                retiring.remove(name);
            }
            log.info("adapter {} removed", name);
            return true;
        });
    }

    private Path adaptersRoot() {
        if (options.adaptersDir() == null) {
            throw ApiException.notFound(
                    "adapters_fixed",
                    null,
                    "this server's adapters are fixed; "
                            + "start it with --adapters-dir DIR to load and remove adapters while it runs");
        }
        try {
            return options.adaptersDir().toRealPath();
        } catch (IOException e) {
            throw new IllegalStateException("--adapters-dir " + options.adaptersDir() + ": " + e.getMessage(), e);
        }
    }

    /** {@code GET /v1/models/{id}}: OpenAI's retrieve, for the base model or an adapter. */
    private int model(HttpExchange ex, MedQA medqa, String rawId) throws IOException {
        String id = rawId; // getPath() is already decoded
        if (!id.equals(options.servedModelName()) && !adapters(medqa).contains(id)) {
            throw ApiException.notFound(
                    "model_not_found",
                    "model",
                    "The model `" + id + "` does not exist (served: " + options.servedModelName()
                            + (adapters(medqa).isEmpty() ? "" : ", adapters " + adapters(medqa)) + ").");
        }
        return sendJson(ex, 200, modelEntry(medqa, id));
    }

    private ObjectNode modelEntry(MedQA medqa, String id) {
        ObjectNode m = Json.MAPPER
                .createObjectNode()
                .put("id", id)
                .put("object", "model")
                .put("created", Instant.now().getEpochSecond())
                .put("owned_by", "medqa");
        if (!id.equals(options.servedModelName())) {
            m.put("parent", options.servedModelName());
        }
        return m.put("max_model_len", medqa.config().maxPositionEmbeddings());
    }

    private int feedback(HttpExchange ex) throws IOException {
        if (feedback == null) {
            drain(ex);
            throw ApiException.notFound(
                    "feedback_disabled", null, "this server keeps no feedback (start it with --feedback FILE)");
        }
        JsonNode body = readJson(ex, Math.min(MAX_VOTE_BYTES, options.maxBody()), "a vote's limit");
        ObjectNode line = Json.MAPPER.createObjectNode();
        line.put("time", Instant.now().toString());
        if (body.has("chosen") || body.has("rejected")) {
            // A pair: the user saw two answers to the same conversation and picked one (DPO's data).
            ObjectNode chosen = completion(body, "chosen");
            ObjectNode rejected = completion(body, "rejected");
            if (chosen.get("id").equals(rejected.get("id"))) {
                throw ApiException.invalid("rejected", "must name another completion than chosen");
            }
            if (!chosen.path("messages").equals(rejected.path("messages"))
                    || !chosen.path("prompt").equals(rejected.path("prompt"))) {
                throw ApiException.invalid("rejected", "must answer the same conversation as chosen");
            }
            line.put("type", "pair");
            line.set("chosen", chosen);
            line.set("rejected", rejected);
        } else {
            String vote = body.path("vote").asText("");
            if (!vote.equals("like") && !vote.equals("dislike")) {
                throw ApiException.invalid("vote", "must be \"like\" or \"dislike\"");
            }
            line.put("type", "vote");
            line.put("vote", vote);
            line.set("completion", completion(body, "completion_id"));
        }
        // Counted once the vote is valid: invalid ones do not use up the minute's votes.
        long wait = votes.acquire();
        if (wait > 0) {
            throw ApiException.tooManyRequests(
                    "too_many_votes",
                    "at most " + VOTES_PER_MINUTE + " votes a minute are recorded; retry in " + wait + " s",
                    wait);
        }
        try {
            feedback.append(Json.MAPPER.writeValueAsString(line));
        } catch (IOException e) {
            // The server's disk, not the client: an error, not a 499.
            throw new IllegalStateException("cannot record the vote in " + feedback.file() + ": " + e.getMessage(), e);
        }
        return sendJson(ex, 200, Json.MAPPER.createObjectNode().put("status", "recorded"));
    }

    /** The record of the completion the vote's {@code field} names; a 404 when unknown or forgotten. */
    private ObjectNode completion(JsonNode body, String field) {
        JsonNode id = body.get(field);
        if (id == null || !id.isTextual() || id.asText().isEmpty()) {
            throw ApiException.invalid(field, "must be the id of a completion this server returned (its \"id\")");
        }
        ObjectNode record = completions.get(id.asText());
        if (record == null) {
            throw ApiException.notFound(
                    "unknown_completion",
                    field,
                    "no completion " + id.asText()
                            + " is known here: votes name a completion this server returned since it started (the last "
                            + CompletionRecords.CAPACITY + ")");
        }
        return record;
    }

    /**
     * What produces completion {@code id}, kept for votes ({@link CompletionRecords}) from its start: a
     * streamed answer's text is what was sent so far ({@link CompletionRecords#streaming}), so a vote
     * cast right after the user stopped it records what they saw.
     */
    private ObjectNode remember(String id, long created, ApiRequest request, GenerationConfig config) {
        ObjectNode r = Json.MAPPER
                .createObjectNode()
                .put("id", id)
                .put("created", created)
                .put("model", request.model);
        if (request.adapter == null) {
            r.putNull("adapter");
        } else {
            r.put("adapter", request.adapter);
        }
        if (request.chat) {
            ArrayNode messages = r.putArray("messages");
            // Tool calls and results as the text turns of the generic form: feedback exports read role and content.
            Tools.asText(request.messages)
                    .forEach(m -> messages.addObject()
                            .put("role", m.role().jsonName())
                            .put("content", m.content()));
        } else {
            r.put("prompt", request.prompt);
        }
        ObjectNode settings = r.putObject("settings");
        settings.put("temperature", config.isGreedy() ? 0.0 : config.temperature());
        settings.put("top_p", config.topP()).put("top_k", config.topK());
        if (config.minP().isPresent()) {
            settings.put("min_p", config.minP().getAsDouble());
        }
        settings.put("repetition_penalty", config.repetitionPenalty()).put("max_tokens", config.maxNewTokens());
        settings.put("seed", config.seed().orElseThrow());
        ArrayNode stop = settings.putArray("stop");
        config.stopStrings().forEach(stop::add);
        config.constraint().ifPresent(c -> settings.put("constraint", c.toString()));
        r.put("completion", "").put("finish_reason", "in_progress");
        completions.put(r);
        return r;
    }

    /** The completion's end: its text, why it ended and its token counts (none when cancelled). */
    private void finished(ObjectNode record, String text, String finish, int promptTokens, int completionTokens) {
        synchronized (record) {
            record.put("completion", text).put("finish_reason", finish);
            if (completionTokens >= 0) {
                usage(record, promptTokens, completionTokens);
            }
        }
        completions.put(record); // its final size counts against the cap
        completions.done(record.get("id").asText());
    }

    private int complete(HttpExchange ex, MedQA medqa, boolean chat) throws IOException {
        ApiRequest request = ApiRequest.parse(
                readJson(ex), chat, options.servedModelName(), adapters(medqa), chat ? medqa.chatTemplate() : null);
        int[] prompt = promptIds(medqa, request);
        int context = medqa.config().maxPositionEmbeddings();
        if (prompt.length >= context) {
            throw ApiException.badRequest(
                    "context_length_exceeded",
                    chat ? "messages" : "prompt",
                    "the prompt has " + prompt.length + " tokens; this model's context is " + context
                            + " tokens, which leaves no room for an answer");
        }
        GenerationConfig config = request.config(prompt.length, context, options.maxTokensCap());
        if (config.seed().isEmpty()) {
            // A seed of our drawing, so the record of this completion says how to reproduce it.
            config = config.toBuilder()
                    .seed(ThreadLocalRandom.current().nextLong())
                    .build();
        }
        BlockingQueue<Piece> pieces = new LinkedBlockingQueue<>();
        BatchEngine.Request job;
        try {
            job = engine.submit(prompt, config, request.adapter, new Generator.TokenListener() {
                @Override
                public void onToken(int id, String text) {
                    onToken(id, text, null);
                }

                @Override
                public void onToken(int id, String text, TokenLogprob logprob) {
                    // With tools every token counts: a native answer's first one may be its [TOOL_CALLS] (no text).
                    if (!text.isEmpty() || logprob != null || request.tools != null) {
                        pieces.add(new Piece(id, text, logprob));
                    }
                }
            });
        } catch (IllegalArgumentException e) {
            // Its adapter was removed between reading the request and submitting it.
            throw ApiException.notFound("model_not_found", "model", e.getMessage());
        } catch (BatchEngine.QueueFullException e) {
            long after = retryAfterSeconds(engine.queued() + engine.running());
            throw ApiException.tooManyRequests(
                    "queue_full", "the server is busy (" + e.getMessage() + "); retry in about " + after + " s", after);
        }
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID();
        long created = Instant.now().getEpochSecond();
        ObjectNode record = remember(id, created, request, config);
        if (request.stream) {
            return stream(ex, request, record, job, pieces, id, created);
        }
        Generation g = await(job);
        metrics.completed(prompt.length, g.tokens().length);
        finished(record, g.text(), finishReason(g.stopReason()), prompt.length, g.tokens().length);
        ObjectNode out = envelope(id, chat ? "chat.completion" : "text_completion", created, request.model);
        ObjectNode choice = out.putArray("choices").addObject().put("index", 0);
        String finish = finishReason(g.stopReason());
        if (chat) {
            ObjectNode message = choice.putObject("message").put("role", "assistant");
            finish = answer(request, g, finish, message);
        } else {
            choice.put("text", g.text());
        }
        if (request.logprobs >= 0) {
            choice.set("logprobs", new LogprobsJson(medqa.tokenizer()).of(g.logprobs(), chat));
        } else {
            choice.putNull("logprobs");
        }
        choice.put("finish_reason", finish);
        usage(out, prompt.length, g.tokens().length);
        return sendJson(ex, 200, out);
    }

    /** A streamed token's text (possibly empty) and its log-probability (null unless asked for). */
    private record Piece(int id, String text, TokenLogprob logprob) {}

    /**
     * Fills a chat answer's {@code message} (or a stream's last {@code delta}): its text, or with tools
     * the model's tool calls ({@code finish_reason} "tool_calls") or its reply. Returns the finish reason.
     */
    private static String answer(ApiRequest request, Generation g, String finish, ObjectNode message) {
        if (request.tools == null) {
            message.put("content", g.text());
            return finish;
        }
        Tools.Reply reply;
        try {
            reply = request.tools.parse(g.tokens(), g.text());
        } catch (IllegalArgumentException e) {
            message.put("content", g.text()); // cut by max_tokens: what there is, and finish_reason "length"
            return finish;
        }
        if (!reply.isCall()) {
            message.put("content", reply.content());
            return finish;
        }
        message.putNull("content");
        ArrayNode calls = message.putArray("tool_calls");
        for (int i = 0; i < reply.calls().size(); i++) {
            Tools.Call c = reply.calls().get(i);
            ObjectNode call = calls.addObject();
            call.put("index", i).put("id", c.id()).put("type", "function");
            call.putObject("function")
                    .put("name", c.name())
                    .put("arguments", c.arguments().toString());
        }
        return "tool_calls";
    }

    /**
     * Seconds until {@code ahead} requests have finished at the rate requests finished over the last
     * minute (at least 1, at most 600; 10 before any has finished).
     */
    private long retryAfterSeconds(int ahead) {
        double rate = metrics.requestsPerSecond();
        if (rate <= 0) {
            return 10;
        }
        return Math.max(1, Math.min(600, (long) Math.ceil(ahead / rate)));
    }

    private int[] promptIds(MedQA medqa, ApiRequest request) {
        try {
            return request.promptIds(medqa.chatTemplate(), medqa.tokenizer());
        } catch (ChatTemplateException | IllegalArgumentException | IllegalStateException e) {
            throw ApiException.badRequest(
                    "invalid_messages",
                    request.chat ? "messages" : "prompt",
                    (request.chat ? "messages: the chat template refuses them: " : "prompt: ") + e.getMessage());
        }
    }

    /** Writes Server-Sent Events as pieces arrive; a client that goes away cancels its generation. */
    private int stream(
            HttpExchange ex,
            ApiRequest request,
            ObjectNode record,
            BatchEngine.Request job,
            BlockingQueue<Piece> pieces,
            String id,
            long created)
            throws IOException {
        StringBuilder sent = new StringBuilder();
        completions.streaming(id, sent); // a vote cast while it streams records what was sent
        String object = request.chat ? "chat.completion.chunk" : "text_completion";
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        try {
            if (request.chat) {
                event(out, Json.MAPPER.writeValueAsString(chunk(id, object, created, request, "", true, null)));
            }
            // With tools the answer is JSON: ToolStream reads it as it comes, and the reply's text or each
            // call (its id and name, then its arguments piece by piece) goes out as OpenAI streams them.
            List<TokenLogprob> held = new ArrayList<>();
            LogprobsJson logprobs = request.logprobs >= 0 ? new LogprobsJson(loaded().tokenizer()) : null;
            List<ObjectNode> toolChunks = new ArrayList<>();
            ToolStream toolStream = request.tools == null
                    ? null
                    : new ToolStream(request.tools, new ToolStream.Listener() {
                        @Override
                        public void reply(String text) {
                            toolChunks.add(chunk(id, object, created, request, text, false, null));
                        }

                        @Override
                        public void call(int index, String callId, String name) {
                            ObjectNode call = toolCallDelta(toolChunks, id, object, created, request, index);
                            call.put("id", callId).put("type", "function");
                            call.putObject("function").put("name", name).put("arguments", "");
                        }

                        @Override
                        public void arguments(int index, String json) {
                            toolCallDelta(toolChunks, id, object, created, request, index)
                                    .putObject("function")
                                    .put("arguments", json);
                        }
                    });
            while (true) {
                Piece piece = pieces.poll(20, TimeUnit.MILLISECONDS);
                if (piece != null && toolStream != null) {
                    if (piece.logprob() != null) {
                        held.add(piece.logprob());
                    }
                    toolStream.push(piece.id(), piece.text());
                    for (ObjectNode c : toolChunks) {
                        event(out, Json.MAPPER.writeValueAsString(c));
                        JsonNode text = c.get("choices").get(0).get("delta").get("content");
                        if (text != null) {
                            synchronized (sent) {
                                sent.append(text.asText());
                            }
                        }
                    }
                    toolChunks.clear();
                } else if (piece != null) {
                    ObjectNode c = chunk(id, object, created, request, piece.text(), false, null);
                    if (logprobs != null && piece.logprob() != null) {
                        ((ObjectNode) c.get("choices").get(0))
                                .set("logprobs", logprobs.of(List.of(piece.logprob()), request.chat));
                    }
                    event(out, Json.MAPPER.writeValueAsString(c));
                    synchronized (sent) {
                        sent.append(piece.text());
                    }
                    Duration delay = pieceDelay;
                    if (!delay.isZero()) {
                        Thread.sleep(delay.toMillis());
                    }
                } else if (job.result().isDone() && pieces.isEmpty()) {
                    break;
                }
            }
            if (toolStream != null) {
                toolStream.end(); // a native answer's calls are read as the generic array: close it
                for (ObjectNode c : toolChunks) {
                    event(out, Json.MAPPER.writeValueAsString(c));
                }
                toolChunks.clear();
            }
            Generation g = await(job);
            metrics.completed(job.promptTokens(), g.tokens().length);
            String finish = finishReason(g.stopReason());
            if (toolStream != null) {
                if (finish.equals("stop") && !toolStream.calls().isEmpty()) {
                    finish = "tool_calls";
                }
                if (logprobs != null) {
                    ObjectNode c = chunk(id, object, created, request, "", false, null);
                    ((ObjectNode) c.get("choices").get(0)).set("logprobs", logprobs.of(held, true));
                    event(out, Json.MAPPER.writeValueAsString(c));
                }
            }
            finished(record, g.text(), finish, job.promptTokens(), g.tokens().length);
            event(out, Json.MAPPER.writeValueAsString(chunk(id, object, created, request, "", false, finish)));
            if (request.includeUsage) {
                ObjectNode u = envelope(id, object, created, request.model);
                u.putArray("choices");
                usage(u, job.promptTokens(), g.tokens().length);
                event(out, Json.MAPPER.writeValueAsString(u));
            }
            out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
            return 200;
        } catch (IOException e) {
            job.cancel();
            log.debug("client went away; cancelled its generation", e);
            // The user stopped it (the page's Stop) and may still vote on what they saw.
            finished(record, sent.toString(), "cancelled", job.promptTokens(), -1);
            return 499; // nginx's "client closed request"
        } catch (InterruptedException e) {
            job.cancel();
            finished(record, sent.toString(), "cancelled", job.promptTokens(), -1);
            Thread.currentThread().interrupt();
            return 503;
        } catch (ApiException e) {
            // Headers are sent: the error goes in the stream, as OpenAI does.
            finished(record, sent.toString(), "error", job.promptTokens(), -1);
            event(out, errorJson(e).toString());
            return e.status;
        } catch (RuntimeException e) {
            log.error("generation failed mid-stream", e);
            finished(record, sent.toString(), "error", job.promptTokens(), -1);
            job.cancel();
            event(
                    out,
                    errorJson(ApiException.internal("generation failed: " + e.getMessage()))
                            .toString());
            return 500;
        }
    }

    /** A chunk whose delta carries {@code tool_calls[0]} with {@code index}; returns that call to fill. */
    private ObjectNode toolCallDelta(
            List<ObjectNode> chunks, String id, String object, long created, ApiRequest request, int index) {
        ObjectNode c = chunk(id, object, created, request, "", false, null);
        ObjectNode delta = (ObjectNode) c.get("choices").get(0).get("delta");
        delta.remove("content");
        chunks.add(c);
        return delta.putArray("tool_calls").addObject().put("index", index);
    }

    private ObjectNode chunk(
            String id, String object, long created, ApiRequest request, String text, boolean role, String finish) {
        ObjectNode c = envelope(id, object, created, request.model);
        ObjectNode choice = c.putArray("choices").addObject().put("index", 0);
        if (request.chat) {
            ObjectNode delta = choice.putObject("delta");
            if (role) {
                delta.put("role", "assistant");
            }
            if (finish == null) {
                delta.put("content", text);
            }
        } else {
            choice.put("text", text);
        }
        choice.putNull("logprobs");
        if (finish == null) {
            choice.putNull("finish_reason");
        } else {
            choice.put("finish_reason", finish);
        }
        return c;
    }

    private static void event(OutputStream out, String json) throws IOException {
        out.write(("data: " + json + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static Generation await(BatchEngine.Request job) {
        try {
            return job.result().get();
        } catch (InterruptedException e) {
            job.cancel();
            Thread.currentThread().interrupt();
            throw ApiException.unavailable("interrupted", "the server is stopping");
        } catch (CancellationException e) {
            throw ApiException.unavailable("cancelled", "the generation was cancelled");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IllegalArgumentException gone) {
                // Its adapter was removed after the request was read (BatchEngine resolves it when it starts).
                throw ApiException.notFound("model_not_found", "model", gone.getMessage());
            }
            throw new IllegalStateException("generation failed: " + e.getCause().getMessage(), e.getCause());
        }
    }

    private static ObjectNode envelope(String id, String object, long created, String model) {
        return Json.MAPPER
                .createObjectNode()
                .put("id", id)
                .put("object", object)
                .put("created", created)
                .put("model", model);
    }

    private static void usage(ObjectNode out, int prompt, int completion) {
        out.putObject("usage")
                .put("prompt_tokens", prompt)
                .put("completion_tokens", completion)
                .put("total_tokens", prompt + completion);
    }

    static String finishReason(StopReason reason) {
        return reason == StopReason.EOS || reason == StopReason.STOP_STRING || reason == StopReason.CONSTRAINT_COMPLETE
                ? "stop"
                : "length";
    }

    // ---- plumbing ----

    private JsonNode readJson(HttpExchange ex) throws IOException {
        return readJson(ex, options.maxBody(), "--max-body");
    }

    /**
     * The body as JSON, at most {@code limit} bytes ({@code what} names the limit in the error). A
     * larger body gets 413; the rest of it is read and dropped first (up to a bound), so that the
     * client, still sending, reads the error instead of a reset connection.
     */
    private JsonNode readJson(HttpExchange ex, int limit, String what) throws IOException {
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        byte[] body;
        InputStream in = ex.getRequestBody();
        if (length != null && length.trim().matches("\\d{1,18}") && Long.parseLong(length.trim()) > limit) {
            body = null;
        } else {
            try {
                body = in.readNBytes(limit + 1);
            } catch (IOException e) {
                // A malformed chunked body (or one cut short): say so; a client that is gone never reads it.
                ex.getResponseHeaders().set("Connection", "close");
                throw ApiException.badRequest("invalid_body", "the request body could not be read: " + e.getMessage());
            }
        }
        if (body == null || body.length > limit) {
            drain(ex);
            throw ApiException.tooLarge(
                    "the request body is larger than " + "the server's limit of " + limit + " bytes (" + what + ")");
        }
        try {
            return Json.MAPPER.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest("invalid_json", "the body is not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** Reads and drops what is left of the request body, up to 64 MiB; beyond that the connection closes. */
    private static void drain(HttpExchange ex) {
        try {
            InputStream in = ex.getRequestBody();
            byte[] buf = new byte[64 * 1024];
            long left = 64L << 20;
            int n;
            while (left > 0 && (n = in.read(buf, 0, (int) Math.min(buf.length, left))) > 0) {
                left -= n;
            }
            if (left <= 0) {
                ex.getResponseHeaders().set("Connection", "close");
            }
        } catch (IOException e) {
            log.debug("draining a refused request body", e);
        }
    }

    private static ObjectNode errorJson(ApiException e) {
        ObjectNode out = Json.MAPPER.createObjectNode();
        ObjectNode error = out.putObject("error").put("message", e.getMessage()).put("type", e.type);
        if (e.param == null) {
            error.putNull("param");
        } else {
            error.put("param", e.param);
        }
        error.put("code", e.code);
        return out;
    }

    private void sendError(HttpExchange ex, ApiException e) {
        try {
            e.headers.forEach((k, v) -> ex.getResponseHeaders().set(k, v));
            sendJson(ex, e.status, errorJson(e));
        } catch (IOException | RuntimeException io) {
            log.debug("could not send the error (headers already sent or client gone)", io);
        }
    }

    private static int sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        return send(ex, status, "application/json", Json.MAPPER.writeValueAsString(body));
    }

    private static int send(HttpExchange ex, int status, String type, String body) throws IOException {
        return send(ex, status, type, body.getBytes(StandardCharsets.UTF_8));
    }

    /** A whole response; to HEAD, its headers only. */
    private static int send(HttpExchange ex, int status, String type, byte[] bytes) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseHeaders().set("Content-Length", Integer.toString(bytes.length));
            ex.sendResponseHeaders(status, -1);
            return status;
        }
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
        return status;
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
