package ai.medqa.server;

import java.nio.file.Path;
import java.util.List;

/**
 * How {@link MedQAServer} listens and limits work.
 *
 * @param host interface to bind; 127.0.0.1 unless serving others on purpose (then set an API key)
 * @param port TCP port; 0 picks a free one
 * @param apiKey the key clients must send as {@code Authorization: Bearer KEY}; null for none
 * @param feedback JSON Lines file that the page's like/dislike votes are appended to; null to refuse votes
 * @param maxBatch rows decoded together
 * @param maxQueue requests waiting beyond those; more get 429
 * @param maxBody largest request body in bytes
 * @param servedModelName the base model's id in {@code /v1/models}
 * @param maxTokensCap the default {@code max_tokens} (to the context's end) is capped at this
 * @param allowedHosts Host names served besides IP literals, {@code localhost} and {@code host}
 *     (DNS rebinding protection): exact names, {@code .example.org} for a domain and its
 *     subdomains, {@code *} for any
 * @param adaptersDir the folder under which {@code POST /v1/adapters} may load adapters while serving
 *     ({@code medqa serve --adapters-dir}); null: adapters are fixed at start
 * @param allowedOrigins browser origins (e.g. {@code https://app.example.org}) that may call the API
 *     from their pages, with CORS; {@code *} for any. The chat page's own origin needs no entry.
 */
public record ServerOptions(
        String host,
        int port,
        String apiKey,
        Path feedback,
        int maxBatch,
        int maxQueue,
        int maxBody,
        String servedModelName,
        int maxTokensCap,
        List<String> allowedHosts,
        List<String> allowedOrigins,
        Path adaptersDir) {

    public ServerOptions {
        allowedHosts = List.copyOf(allowedHosts);
        allowedOrigins = List.copyOf(allowedOrigins);
        for (String o : allowedOrigins) {
            if (!o.equals("*") && !o.matches("(?i)https?://[^/\\s]+/?")) {
                throw new IllegalArgumentException("allowed origin \"" + o + "\": expected scheme://host[:port] "
                        + "(for example https://app.example.org) or *");
            }
        }
        for (String h : allowedHosts) {
            if (h.isBlank() || h.contains("/") || h.contains(" ")) {
                throw new IllegalArgumentException("allowed host \"" + h + "\": expected a host name (example.org), "
                        + "a domain (.example.org) or *");
            }
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        }
        if (maxBatch < 1) {
            throw new IllegalArgumentException("max batch must be >= 1, got " + maxBatch);
        }
        if (maxQueue < 0) {
            throw new IllegalArgumentException("max queue must be >= 0, got " + maxQueue);
        }
        if (maxBody < 1024) {
            throw new IllegalArgumentException("max body must be >= 1024 bytes, got " + maxBody);
        }
        if (servedModelName == null || servedModelName.isBlank()) {
            throw new IllegalArgumentException("served model name must not be empty");
        }
        if (maxTokensCap < 1) {
            throw new IllegalArgumentException("max tokens cap must be >= 1, got " + maxTokensCap);
        }
        if (apiKey != null && apiKey.isEmpty()) {
            throw new IllegalArgumentException("the API key is empty");
        }
    }

    /**
     * Loopback, port 8080, no key, no feedback file, batches of 8, 64 waiting, 1 MiB bodies, 1,024
     * tokens, no other host names or origins.
     */
    public static ServerOptions defaults(String servedModelName) {
        return new ServerOptions(
                "127.0.0.1", 8080, null, null, 8, 64, 1 << 20, servedModelName, 1024, List.of(), List.of(), null);
    }

    public ServerOptions withPort(int port) {
        return new ServerOptions(
                host,
                port,
                apiKey,
                feedback,
                maxBatch,
                maxQueue,
                maxBody,
                servedModelName,
                maxTokensCap,
                allowedHosts,
                allowedOrigins,
                adaptersDir);
    }

    public ServerOptions withHost(String host) {
        return new ServerOptions(
                host,
                port,
                apiKey,
                feedback,
                maxBatch,
                maxQueue,
                maxBody,
                servedModelName,
                maxTokensCap,
                allowedHosts,
                allowedOrigins,
                adaptersDir);
    }

    public ServerOptions withApiKey(String apiKey) {
        return new ServerOptions(
                host,
                port,
                apiKey,
                feedback,
                maxBatch,
                maxQueue,
                maxBody,
                servedModelName,
                maxTokensCap,
                allowedHosts,
                allowedOrigins,
                adaptersDir);
    }

    public ServerOptions withFeedback(Path feedback) {
        return new ServerOptions(
                host,
                port,
                apiKey,
                feedback,
                maxBatch,
                maxQueue,
                maxBody,
                servedModelName,
                maxTokensCap,
                allowedHosts,
                allowedOrigins,
                adaptersDir);
    }

    /** Host names and browser origins allowed besides the defaults (see the record's parameters). */
    public ServerOptions withAllowed(List<String> allowedHosts, List<String> allowedOrigins) {
        return new ServerOptions(
                host,
                port,
                apiKey,
                feedback,
                maxBatch,
                maxQueue,
                maxBody,
                servedModelName,
                maxTokensCap,
                allowedHosts,
                allowedOrigins,
                adaptersDir);
    }

    /** Lets {@code POST /v1/adapters} load adapters found under {@code dir} while serving. */
    public ServerOptions withAdaptersDir(Path dir) {
        return new ServerOptions(
                host,
                port,
                apiKey,
                feedback,
                maxBatch,
                maxQueue,
                maxBody,
                servedModelName,
                maxTokensCap,
                allowedHosts,
                allowedOrigins,
                dir);
    }

    public ServerOptions withLimits(int maxBatch, int maxQueue, int maxBody) {
        return new ServerOptions(
                host,
                port,
                apiKey,
                feedback,
                maxBatch,
                maxQueue,
                maxBody,
                servedModelName,
                maxTokensCap,
                allowedHosts,
                allowedOrigins,
                adaptersDir);
    }
}
