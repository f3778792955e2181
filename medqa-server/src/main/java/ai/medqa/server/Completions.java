package ai.medqa.server;

import ai.medqa.MedQA;
import ai.medqa.chat.ChatTemplateException;
import ai.medqa.generate.BatchEngine;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;

/**
 * {@code /v1/chat/completions} and {@code /v1/completions}: a request is read, its prompt encoded and
 * submitted to the {@link BatchEngine}, and the answer returned whole or streamed ({@link
 * CompletionStream}); each completion is recorded for votes ({@link CompletionRecords}).
 */
final class Completions {
    private final ServerOptions options;
    private final ServerMetrics metrics;
    private final Supplier<BatchEngine> engine;
    private final CompletionRecords records;
    private final ModelEndpoints models;
    private final Supplier<Duration> pieceDelay;

    Completions(
            ServerOptions options,
            ServerMetrics metrics,
            Supplier<BatchEngine> engine,
            CompletionRecords records,
            ModelEndpoints models,
            Supplier<Duration> pieceDelay) {
        this.options = options;
        this.metrics = metrics;
        this.engine = engine;
        this.records = records;
        this.models = models;
        this.pieceDelay = pieceDelay;
    }

    int complete(HttpExchange ex, MedQA medqa, boolean chat) throws IOException {
        ApiRequest request = ApiRequest.parse(
                Exchanges.readJson(ex, options),
                chat,
                options.servedModelName(),
                models.adapters(medqa),
                chat ? medqa.chatTemplate() : null);
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
        BatchEngine engine = this.engine.get();
        // Only a streamed answer reads the pieces; a whole one comes from the result, so the engine's
        // thread queues nothing for it.
        CompletionStream.Pieces pieces = request.stream ? new CompletionStream.Pieces(request.tools != null) : null;
        BatchEngine.Request job;
        try {
            job = engine.submit(prompt, config, request.adapter, pieces);
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
        ObjectNode record = records.remember(id, created, request, config);
        if (request.stream) {
            return new CompletionStream(request, id, created, records, metrics, pieceDelay)
                    .send(ex, medqa, record, job, pieces);
        }
        Generation g = await(job);
        metrics.completed(prompt.length, g.tokens().length);
        records.finished(record, g.text(), OpenAiJson.finishReason(g.stopReason()), prompt.length, g.tokens().length);
        ObjectNode out = OpenAiJson.envelope(id, chat ? "chat.completion" : "text_completion", created, request.model);
        ObjectNode choice = out.putArray("choices").addObject().put("index", 0);
        String finish = OpenAiJson.finishReason(g.stopReason());
        if (chat) {
            ObjectNode message = choice.putObject("message").put("role", "assistant");
            finish = OpenAiJson.answer(request, g, finish, message);
        } else {
            choice.put("text", g.text());
        }
        if (request.logprobs >= 0) {
            choice.set("logprobs", new LogprobsJson(medqa.tokenizer()).of(g.logprobs(), chat));
        } else {
            choice.putNull("logprobs");
        }
        choice.put("finish_reason", finish);
        OpenAiJson.usage(out, prompt.length, g.tokens().length);
        return Exchanges.sendJson(ex, 200, out);
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

    private static int[] promptIds(MedQA medqa, ApiRequest request) {
        try {
            return request.promptIds(medqa.chatTemplate(), medqa.tokenizer());
        } catch (ChatTemplateException | IllegalArgumentException | IllegalStateException e) {
            throw ApiException.badRequest(
                    "invalid_messages",
                    request.chat ? "messages" : "prompt",
                    (request.chat ? "messages: the chat template refuses them: " : "prompt: ") + e.getMessage());
        }
    }

    static Generation await(BatchEngine.Request job) {
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
}
