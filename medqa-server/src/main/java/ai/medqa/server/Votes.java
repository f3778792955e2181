package ai.medqa.server;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;

/**
 * {@code POST /v1/feedback}: a like or dislike of one completion, or a pair (the chosen and the
 * rejected answer to one conversation), appended to the feedback file with the record of what
 * produced each completion ({@link CompletionRecords}).
 */
final class Votes {
    private final FeedbackLog feedback; // null when the server keeps no feedback
    private final CompletionRecords completions;
    private final int maxBody;
    private final RateLimit votes = new RateLimit(MedQAServer.VOTES_PER_MINUTE, Duration.ofMinutes(1));

    Votes(FeedbackLog feedback, CompletionRecords completions, ServerOptions options) {
        this.feedback = feedback;
        this.completions = completions;
        this.maxBody = options.maxBody();
    }

    int vote(HttpExchange ex) throws IOException {
        if (feedback == null) {
            Exchanges.drain(ex);
            throw ApiException.notFound(
                    "feedback_disabled", null, "this server keeps no feedback (start it with --feedback FILE)");
        }
        JsonNode body = Exchanges.readJson(ex, Math.min(MedQAServer.MAX_VOTE_BYTES, maxBody), "a vote's limit");
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
                    "at most " + MedQAServer.VOTES_PER_MINUTE + " votes a minute are recorded; retry in " + wait + " s",
                    wait);
        }
        try {
            feedback.append(Json.MAPPER.writeValueAsString(line));
        } catch (IOException e) {
            // The server's disk, not the client: an error, not a 499.
            throw new IllegalStateException("cannot record the vote in " + feedback.file() + ": " + e.getMessage(), e);
        }
        return Exchanges.sendJson(ex, 200, Json.MAPPER.createObjectNode().put("status", "recorded"));
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
}
