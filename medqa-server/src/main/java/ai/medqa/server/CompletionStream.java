package ai.medqa.server;

import ai.medqa.MedQA;
import ai.medqa.chat.ToolStream;
import ai.medqa.generate.BatchEngine;
import ai.medqa.generate.Generation;
import ai.medqa.generate.Generator;
import ai.medqa.generate.TokenLogprob;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One completion streamed as OpenAI streams it ({@code stream: true}): a chunk per decoded piece
 * (with tools, the reply's text or each call as {@link ToolStream} reads it), then the finish reason,
 * the usage when asked for, and {@code [DONE]}. A client that goes away cancels its generation.
 */
final class CompletionStream {
    private static final Logger log = LoggerFactory.getLogger(MedQAServer.class); // the server's log, as before

    /** A streamed token's text (possibly empty) and its log-probability (null unless asked for). */
    record Piece(int id, String text, TokenLogprob logprob) {}

    /** After a request's last piece: its result is complete. */
    private static final Piece END = new Piece(-1, "", null);

    /**
     * A request's pieces as the engine decodes them, then {@link #END}. The engine calls the listener
     * and then completes the result on its own thread, so END always comes after the last piece and
     * the stream blocks on the queue instead of polling the result.
     */
    static final class Pieces implements Generator.TokenListener {
        private final BlockingQueue<Piece> queue = new LinkedBlockingQueue<>();
        private final boolean everyToken;

        /** {@code everyToken}: with tools a native answer's first token may be its [TOOL_CALLS] (no text). */
        Pieces(boolean everyToken) {
            this.everyToken = everyToken;
        }

        @Override
        public void onToken(int id, String text) {
            onToken(id, text, null);
        }

        @Override
        public void onToken(int id, String text, TokenLogprob logprob) {
            if (!text.isEmpty() || logprob != null || everyToken) {
                queue.add(new Piece(id, text, logprob));
            }
        }

        /** Ends the pieces when {@code job}, the request this listens to, completes however it does. */
        void endWith(BatchEngine.Request job) {
            job.result().whenComplete((g, e) -> queue.add(END));
        }

        /** The next piece, or null once the request has completed; blocks until one of them. */
        Piece take() throws InterruptedException {
            Piece p = queue.take();
            return p == END ? null : p;
        }
    }

    private final ApiRequest request;
    private final String id;
    private final String object;
    private final long created;
    private final CompletionRecords records;
    private final ServerMetrics metrics;
    /** Tests only: a pause after each streamed piece ({@code MedQAServer.pieceDelay}), read per piece. */
    private final Supplier<Duration> pieceDelay;

    CompletionStream(
            ApiRequest request,
            String id,
            long created,
            CompletionRecords records,
            ServerMetrics metrics,
            Supplier<Duration> pieceDelay) {
        this.request = request;
        this.id = id;
        this.object = request.chat ? "chat.completion.chunk" : "text_completion";
        this.created = created;
        this.records = records;
        this.metrics = metrics;
        this.pieceDelay = pieceDelay;
    }

    /** Writes Server-Sent Events as pieces arrive; returns the status for the metrics. */
    int send(HttpExchange ex, MedQA medqa, ObjectNode record, BatchEngine.Request job, Pieces pieces)
            throws IOException {
        pieces.endWith(job);
        StringBuilder sent = new StringBuilder();
        records.streaming(id, sent); // a vote cast while it streams records what was sent
        SseWriter out = new SseWriter(ex);
        try {
            if (request.chat) {
                out.event(chunk("", true, null));
            }
            // With tools the answer is JSON: ToolStream reads it as it comes, and the reply's text or each
            // call (its id and name, then its arguments piece by piece) goes out as OpenAI streams them.
            List<TokenLogprob> held = new ArrayList<>();
            LogprobsJson logprobs = request.logprobs >= 0 ? new LogprobsJson(medqa.tokenizer()) : null;
            List<ObjectNode> toolChunks = new ArrayList<>();
            ToolStream toolStream = request.tools == null
                    ? null
                    : new ToolStream(request.tools, new ToolStream.Listener() {
                        @Override
                        public void reply(String text) {
                            toolChunks.add(chunk(text, false, null));
                        }

                        @Override
                        public void call(int index, String callId, String name) {
                            ObjectNode call = toolCallDelta(toolChunks, index);
                            call.put("id", callId).put("type", "function");
                            call.putObject("function").put("name", name).put("arguments", "");
                        }

                        @Override
                        public void arguments(int index, String json) {
                            toolCallDelta(toolChunks, index)
                                    .putObject("function")
                                    .put("arguments", json);
                        }
                    });
            for (Piece piece = pieces.take(); piece != null; piece = pieces.take()) {
                if (toolStream != null) {
                    if (piece.logprob() != null) {
                        held.add(piece.logprob());
                    }
                    toolStream.push(piece.id(), piece.text());
                    for (ObjectNode c : toolChunks) {
                        out.event(c);
                        JsonNode text = c.get("choices").get(0).get("delta").get("content");
                        if (text != null) {
                            synchronized (sent) {
                                sent.append(text.asText());
                            }
                        }
                    }
                    toolChunks.clear();
                } else {
                    ObjectNode c = chunk(piece.text(), false, null);
                    if (logprobs != null && piece.logprob() != null) {
                        ((ObjectNode) c.get("choices").get(0))
                                .set("logprobs", logprobs.of(List.of(piece.logprob()), request.chat));
                    }
                    out.event(c);
                    synchronized (sent) {
                        sent.append(piece.text());
                    }
                    Duration delay = pieceDelay.get();
                    if (!delay.isZero()) {
                        Thread.sleep(delay.toMillis());
                    }
                }
            }
            if (toolStream != null) {
                toolStream.end(); // a native answer's calls are read as the generic array: close it
                for (ObjectNode c : toolChunks) {
                    out.event(c);
                }
                toolChunks.clear();
            }
            Generation g = Completions.await(job);
            metrics.completed(job.promptTokens(), g.tokens().length);
            String finish = OpenAiJson.finishReason(g.stopReason());
            if (toolStream != null) {
                if (finish.equals("stop") && !toolStream.calls().isEmpty()) {
                    finish = "tool_calls";
                }
                if (logprobs != null) {
                    ObjectNode c = chunk("", false, null);
                    ((ObjectNode) c.get("choices").get(0)).set("logprobs", logprobs.of(held, true));
                    out.event(c);
                }
            }
            records.finished(record, g.text(), finish, job.promptTokens(), g.tokens().length);
            out.event(chunk("", false, finish));
            if (request.includeUsage) {
                ObjectNode u = OpenAiJson.envelope(id, object, created, request.model);
                u.putArray("choices");
                OpenAiJson.usage(u, job.promptTokens(), g.tokens().length);
                out.event(u);
            }
            out.done();
            return 200;
        } catch (IOException e) {
            job.cancel();
            log.debug("client went away; cancelled its generation", e);
            // The user stopped it (the page's Stop) and may still vote on what they saw.
            records.finished(record, sent.toString(), "cancelled", job.promptTokens(), -1);
            return 499; // nginx's "client closed request"
        } catch (InterruptedException e) {
            job.cancel();
            records.finished(record, sent.toString(), "cancelled", job.promptTokens(), -1);
            Thread.currentThread().interrupt();
            return 503;
        } catch (ApiException e) {
            // Headers are sent: the error goes in the stream, as OpenAI does.
            records.finished(record, sent.toString(), "error", job.promptTokens(), -1);
            out.error(e);
            return e.status;
        } catch (RuntimeException e) {
            log.error("generation failed mid-stream", e);
            records.finished(record, sent.toString(), "error", job.promptTokens(), -1);
            job.cancel();
            out.error(ApiException.internal("generation failed: " + e.getMessage()));
            return 500;
        }
    }

    /** A chunk whose delta carries {@code tool_calls[0]} with {@code index}; returns that call to fill. */
    private ObjectNode toolCallDelta(List<ObjectNode> chunks, int index) {
        ObjectNode c = chunk("", false, null);
        ObjectNode delta = (ObjectNode) c.get("choices").get(0).get("delta");
        delta.remove("content");
        chunks.add(c);
        return delta.putArray("tool_calls").addObject().put("index", index);
    }

    private ObjectNode chunk(String text, boolean role, String finish) {
        ObjectNode c = OpenAiJson.envelope(id, object, created, request.model);
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
}
