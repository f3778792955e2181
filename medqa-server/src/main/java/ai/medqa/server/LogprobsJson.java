package ai.medqa.server;

import ai.medqa.common.Json;
import ai.medqa.generate.TokenLogprob;
import ai.medqa.tokenizer.Tokenizer;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Token log-probabilities in OpenAI's two shapes: chat's {@code {"content": [{token, logprob, bytes,
 * top_logprobs}]}} and the completions' {@code {tokens, token_logprobs, top_logprobs, text_offset}}.
 * A token's text is its piece with SentencePiece's "▁" as a space; a byte token of a non-ASCII byte
 * is {@code "bytes:\xNN"} with that one byte in {@code bytes} (tiktoken's convention in OpenAI's API).
 */
final class LogprobsJson {
    private final Tokenizer tokenizer;
    private int offset; // completions: where the next token's text starts in the answer

    LogprobsJson(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    ObjectNode of(List<TokenLogprob> tokens, boolean chat) {
        ObjectNode out = Json.MAPPER.createObjectNode();
        if (chat) {
            ArrayNode content = out.putArray("content");
            for (TokenLogprob t : tokens) {
                ObjectNode e = entry(content.addObject(), t.id(), t.logprob());
                ArrayNode top = e.putArray("top_logprobs");
                t.top().forEach(a -> entry(top.addObject(), a.id(), a.logprob()));
            }
            out.putNull("refusal");
            return out;
        }
        ArrayNode text = out.putArray("tokens");
        ArrayNode logprobs = out.putArray("token_logprobs");
        ArrayNode top = out.putArray("top_logprobs");
        ArrayNode offsets = out.putArray("text_offset");
        for (TokenLogprob t : tokens) {
            String s = text(t.id());
            text.add(s);
            logprobs.add(t.logprob());
            ObjectNode alternatives = top.addObject();
            t.top().forEach(a -> alternatives.put(text(a.id()), a.logprob()));
            offsets.add(offset);
            offset += s.length();
        }
        return out;
    }

    private ObjectNode entry(ObjectNode e, int id, float logprob) {
        e.put("token", text(id)).put("logprob", logprob);
        ArrayNode bytes = e.putArray("bytes");
        for (byte b : bytes(id)) {
            bytes.add(b & 0xff);
        }
        return e;
    }

    private String text(int id) {
        String piece = tokenizer.idToPiece(id);
        if (piece == null) {
            return ""; // an id past the tokenizer's pieces (a padded vocabulary)
        }
        int b = byteOf(piece);
        if (b >= 0) {
            return b < 0x80 ? String.valueOf((char) b) : String.format("bytes:\\x%02x", b);
        }
        return piece.replace('\u2581', ' ');
    }

    private byte[] bytes(int id) {
        int b = byteOf(tokenizer.idToPiece(id)); // byteOf takes null
        return b >= 0 ? new byte[] {(byte) b} : text(id).getBytes(StandardCharsets.UTF_8);
    }

    private static int byteOf(String piece) {
        if (piece != null && piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
            return Integer.parseInt(piece.substring(3, 5), 16);
        }
        return -1;
    }
}
