package ai.medqa.server;

import ai.medqa.MedQA;
import ai.medqa.generate.BatchEngine;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
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

    private volatile BatchEngine engine;
    private volatile boolean ownsModel;
    private boolean closed; // guarded by this
    /** Tests only: a pause after each streamed piece, so a browser can watch an answer grow. */
    volatile Duration pieceDelay = Duration.ZERO;

    private MedQAServer(ServerOptions options) throws IOException {
        this.options = options;
        RequestGuard guard = new RequestGuard(options.host(), options.allowedHosts(), options.allowedOrigins());
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
        ModelEndpoints models = new ModelEndpoints(options, () -> engine);
        CompletionRecords records = new CompletionRecords();
        Router router = new Router(
                options,
                guard,
                metrics,
                model,
                () -> engine,
                models,
                new Votes(feedback, records, options),
                new Completions(options, metrics, () -> engine, records, models, () -> pieceDelay));
        http.createContext("/", router::handle);
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

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
