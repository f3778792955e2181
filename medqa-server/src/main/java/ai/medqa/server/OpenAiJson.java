package ai.medqa.server;

import ai.medqa.chat.Tools;
import ai.medqa.common.Json;
import ai.medqa.generate.Generation;
import ai.medqa.generate.StopReason;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The parts of OpenAI's response bodies that several endpoints share: envelope, usage, answer, error. */
final class OpenAiJson {
    private OpenAiJson() {}

    static ObjectNode envelope(String id, String object, long created, String model) {
        return Json.MAPPER
                .createObjectNode()
                .put("id", id)
                .put("object", object)
                .put("created", created)
                .put("model", model);
    }

    static void usage(ObjectNode out, int prompt, int completion) {
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

    /**
     * Fills a chat answer's {@code message} (or a stream's last {@code delta}): its text, or with tools
     * the model's tool calls ({@code finish_reason} "tool_calls") or its reply. Returns the finish reason.
     */
    static String answer(ApiRequest request, Generation g, String finish, ObjectNode message) {
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

    static ObjectNode error(ApiException e) {
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
}
