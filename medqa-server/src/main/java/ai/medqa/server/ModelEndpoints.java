package ai.medqa.server;

import ai.medqa.MedQA;
import ai.medqa.common.Json;
import ai.medqa.generate.BatchEngine;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /v1/models} and {@code /v1/adapters}: the base model and its LoRA adapters as OpenAI lists
 * models, and adapters loaded and removed while the server runs (with {@code --adapters-dir}).
 */
final class ModelEndpoints {
    private static final Logger log = LoggerFactory.getLogger(MedQAServer.class); // the server's log, as before

    private final ServerOptions options;
    private final Supplier<BatchEngine> engine;
    /** Adapters being removed: hidden from new requests, freed when no request uses them. */
    private final Set<String> retiring = ConcurrentHashMap.newKeySet();

    ModelEndpoints(ServerOptions options, Supplier<BatchEngine> engine) {
        this.options = options;
        this.engine = engine;
    }

    int models(HttpExchange ex, MedQA medqa) throws IOException {
        ObjectNode out = Json.MAPPER.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        data.add(modelEntry(medqa, options.servedModelName()));
        for (String adapter : adapters(medqa)) {
            data.add(modelEntry(medqa, adapter));
        }
        return Exchanges.sendJson(ex, 200, out);
    }

    /** The adapters requests may name: those loaded, less those being removed. */
    Set<String> adapters(MedQA medqa) {
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
    int addAdapter(HttpExchange ex, MedQA medqa) throws IOException {
        Path root = adaptersRoot();
        JsonNode body = Exchanges.readJson(ex, options);
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
                            + "; DELETE /v1/adapters/" + name
                            + " first, or choose another");
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
            engine.get()
                    .betweenSteps(() -> {
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
        return Exchanges.sendJson(
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
    int removeAdapter(HttpExchange ex, MedQA medqa, String name) throws IOException {
        adaptersRoot();
        Exchanges.drain(ex);
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
        return Exchanges.sendJson(
                ex,
                removed ? 200 : 202,
                Json.MAPPER
                        .createObjectNode()
                        .put("status", removed ? "removed" : "removing")
                        .put("name", name));
    }

    /** Removes {@code name} between steps once no request uses it; true if that was at the first try. */
    private CompletableFuture<Boolean> retire(MedQA medqa, String name) {
        BatchEngine engine = this.engine.get();
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
    int model(HttpExchange ex, MedQA medqa, String rawId) throws IOException {
        String id = rawId; // getPath() is already decoded
        if (!id.equals(options.servedModelName()) && !adapters(medqa).contains(id)) {
            throw ApiException.modelNotFound(id, options.servedModelName(), adapters(medqa));
        }
        return Exchanges.sendJson(ex, 200, modelEntry(medqa, id));
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
}
