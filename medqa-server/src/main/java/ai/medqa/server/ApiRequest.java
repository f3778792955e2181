package ai.medqa.server;

import ai.medqa.chat.Message;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.GenerationConfigException;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A completion request, read as OpenAI (and vLLM, for {@code top_k}, {@code min_p},
 * {@code repetition_penalty}) define the fields. Unknown fields are ignored, as clients send
 * extras; a known field with a wrong type or value is refused, naming it.
 */
final class ApiRequest {
    final boolean chat;
    final String model; // the id asked for, as given
    final String adapter; // null: the base model
    final List<Message> messages; // chat
    final String prompt; // completions
    final boolean stream;
    final boolean includeUsage;
    final Integer maxTokens;
    private final GenerationConfig.Builder settings;

    private ApiRequest(JsonNode body, boolean chat, String servedName, Set<String> adapters) {
        if (body == null || !body.isObject()) {
            throw ApiException.badRequest("invalid_json", "the body must be a JSON object");
        }
        this.chat = chat;
        refuseUnsupported(body);
        JsonNode m = body.get("model");
        if (m != null && !m.isNull() && !m.isTextual()) {
            throw ApiException.invalid("model", "must be a string");
        } else if (m == null || m.isNull() || m.asText().isEmpty()) {
            model = servedName;
            adapter = null;
        } else if (m.asText().equals(servedName)) {
            model = servedName;
            adapter = null;
        } else if (adapters.contains(m.asText())) {
            model = m.asText();
            adapter = model;
        } else {
            throw new ApiException(404, "invalid_request_error", "model_not_found", "model",
                    "The model `" + m.asText() + "` does not exist (served: " + servedName
                            + (adapters.isEmpty() ? "" : ", adapters " + adapters) + ").", Map.of());
        }
        if (chat) {
            messages = messages(body.get("messages"));
            prompt = null;
        } else {
            prompt = prompt(body.get("prompt"));
            messages = null;
        }
        stream = bool(body, "stream", false);
        JsonNode options = body.get("stream_options");
        includeUsage = options != null && options.isObject() && bool(options, "include_usage", false);
        Integer n = integer(body, "n", 1, Integer.MAX_VALUE);
        if (n != null && n != 1) {
            throw ApiException.invalid("n", "only 1 choice per request is supported, got " + n);
        }
        Integer max = integer(body, "max_completion_tokens", 1, Integer.MAX_VALUE);
        Integer legacy = integer(body, "max_tokens", 1, Integer.MAX_VALUE);
        maxTokens = max != null ? max : legacy;
        settings = sampling(body);
    }

    /** OpenAI fields that change what the answer must be, when set to anything but their no-op value. */
    private static void refuseUnsupported(JsonNode body) {
        List<String> asked = new ArrayList<>();
        for (String f : new String[] {"tools", "functions", "logit_bias"}) {
            JsonNode v = body.get(f);
            if (v != null && !v.isNull() && !(v.isContainerNode() && v.isEmpty())) {
                asked.add(f);
            }
        }
        for (String f : new String[] {"tool_choice", "function_call"}) {
            JsonNode v = body.get(f);
            if (v != null && !v.isNull() && !(v.isTextual() && v.asText().equals("none"))) {
                asked.add(f);
            }
        }
        JsonNode format = body.get("response_format");
        if (format != null && !format.isNull() && !"text".equals(format.path("type").asText())) {
            asked.add("response_format");
        }
        JsonNode logprobs = body.get("logprobs");
        if (logprobs != null && !logprobs.isNull() && !(logprobs.isBoolean() && !logprobs.asBoolean())) {
            asked.add("logprobs");
        }
        JsonNode top = body.get("top_logprobs");
        if (top != null && !top.isNull() && !(top.isNumber() && top.asInt() == 0)) {
            asked.add("top_logprobs");
        }
        for (String f : new String[] {"presence_penalty", "frequency_penalty"}) {
            JsonNode v = body.get(f);
            if (v != null && !v.isNull() && !(v.isNumber() && v.asDouble() == 0)) {
                asked.add(f); // not repetition_penalty's multiplicative rule: use that (vLLM's field) instead
            }
        }
        JsonNode echo = body.get("echo");
        if (echo != null && echo.isBoolean() && echo.asBoolean()) {
            asked.add("echo");
        }
        JsonNode bestOf = body.get("best_of");
        if (bestOf != null && bestOf.isNumber() && bestOf.asInt() != 1) {
            asked.add("best_of");
        }
        JsonNode suffix = body.get("suffix");
        if (suffix != null && suffix.isTextual() && !suffix.asText().isEmpty()) {
            asked.add("suffix");
        }
        if (!asked.isEmpty()) {
            throw new ApiException(400, "invalid_request_error", "unsupported_parameter", asked.get(0),
                    String.join(", ", asked) + ": not supported by this server yet; leave "
                            + (asked.size() == 1 ? "it" : "them") + " out (the answer would not follow "
                            + (asked.size() == 1 ? "it" : "them") + ")", Map.of());
        }
    }

    static ApiRequest parse(JsonNode body, boolean chat, String servedName, Set<String> adapters) {
        return new ApiRequest(body, chat, servedName, adapters);
    }

    /** The generation settings, with {@code max_tokens} resolved against the prompt's length. */
    GenerationConfig config(int promptTokens, int context, int cap) {
        int room = context - promptTokens;
        int budget = maxTokens != null ? maxTokens : Math.min(room, cap);
        try {
            return settings.maxNewTokens(Math.max(1, budget)).build();
        } catch (GenerationConfigException e) {
            throw ApiException.badRequest("invalid_value", e.getMessage());
        }
    }

    private static GenerationConfig.Builder sampling(JsonNode body) {
        Double temperature = number(body, "temperature", 0, 2, true);
        Double topP = number(body, "top_p", 0, 1, false);
        Integer topK = integer(body, "top_k", -1, Integer.MAX_VALUE);
        Double minP = number(body, "min_p", 0, 1, true);
        Double repetition = number(body, "repetition_penalty", 0, Double.MAX_VALUE, false);
        JsonNode seed = body.get("seed");
        if (seed != null && !seed.isNull() && !(seed.isIntegralNumber() && seed.canConvertToLong())) {
            throw ApiException.invalid("seed", "must be an integer, got " + seed);
        }
        // OpenAI's defaults (temperature 1, top_p 1, no top-k); temperature 0 is greedy.
        double t = temperature == null ? 1.0 : temperature;
        GenerationConfig.Builder b = GenerationConfig.builder().doSample(t > 0);
        if (t > 0) {
            b.temperature(t).topP(topP == null ? 1.0 : topP).topK(topK == null || topK < 0 ? 0 : topK);
            if (minP != null && minP > 0) {
                b.minP(minP);
            }
        }
        if (repetition != null) {
            b.repetitionPenalty(repetition);
        }
        if (seed != null && !seed.isNull()) {
            b.seed(seed.asLong());
        }
        b.stopStrings(stops(body.get("stop")));
        return b;
    }

    private static List<String> stops(JsonNode stop) {
        List<String> out = new ArrayList<>();
        if (stop == null || stop.isNull()) {
            return out;
        }
        if (stop.isTextual()) {
            out.add(stop.asText());
        } else if (stop.isArray()) {
            for (JsonNode s : stop) {
                if (!s.isTextual()) {
                    throw ApiException.invalid("stop", "must be a string or an array of strings");
                }
                out.add(s.asText());
            }
        } else {
            throw ApiException.invalid("stop", "must be a string or an array of strings");
        }
        if (out.size() > 4) {
            throw ApiException.invalid("stop", "at most 4 sequences, got " + out.size());
        }
        if (out.stream().anyMatch(String::isEmpty)) {
            throw ApiException.invalid("stop", "sequences must not be empty");
        }
        return out;
    }

    private static List<Message> messages(JsonNode node) {
        if (node == null || !node.isArray() || node.isEmpty()) {
            throw ApiException.invalid("messages", "must be a non-empty array of {role, content}");
        }
        List<Message> out = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode msg = node.get(i);
            String where = "messages[" + i + "]";
            if (!msg.isObject() || !msg.path("role").isTextual()) {
                throw ApiException.invalid(where + ".role", "must be one of system, user, assistant");
            }
            String role = msg.get("role").asText();
            if (role.equals("tool") || role.equals("function") || msg.hasNonNull("tool_calls")
                    || msg.hasNonNull("function_call")) {
                throw new ApiException(400, "invalid_request_error", "unsupported_parameter", where + ".role",
                        where + ".role \"" + role + "\": tool messages and tool calls are not supported by this server yet",
                        Map.of());
            }
            String content = content(msg.get("content"), where + ".content");
            switch (role) {
                case "system", "developer" -> out.add(Message.system(content));
                case "user" -> out.add(Message.user(content));
                case "assistant" -> out.add(Message.assistant(content));
                default -> throw ApiException.invalid(where + ".role",
                        "the chat template has no role '" + role + "' (system, user, assistant)");
            }
        }
        return out;
    }

    /** A string, or OpenAI's array of parts of which only text parts are understood. */
    private static String content(JsonNode node, String where) {
        if (node != null && node.isTextual()) {
            return node.asText();
        }
        if (node != null && node.isArray()) {
            StringBuilder s = new StringBuilder();
            for (JsonNode part : node) {
                if (!"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiException.invalid(where, "only text parts are supported");
                }
                s.append(part.get("text").asText());
            }
            return s.toString();
        }
        throw ApiException.invalid(where, "must be a string or an array of text parts");
    }

    private static String prompt(JsonNode node) {
        if (node != null && node.isTextual()) {
            return node.asText();
        }
        if (node != null && node.isArray() && node.size() == 1 && node.get(0).isTextual()) {
            return node.get(0).asText();
        }
        throw ApiException.invalid("prompt", "must be a string (one prompt per request)");
    }

    private static boolean bool(JsonNode body, String field, boolean fallback) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw ApiException.invalid(field, "must be true or false, got " + v);
        }
        return v.asBoolean();
    }

    private static Integer integer(JsonNode body, String field, int min, int max) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
            throw ApiException.invalid(field, "must be an integer >= " + min + ", got " + v);
        }
        return v.asInt();
    }

    /** A number in [min, max] (or (min, max] when the minimum is excluded). */
    private static Double number(JsonNode body, String field, double min, double max, boolean minIncluded) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        double d = v.asDouble();
        boolean ok = v.isNumber() && Double.isFinite(d) && (minIncluded ? d >= min : d > min) && d <= max;
        if (!ok) {
            String range = (minIncluded ? "[" : "(") + min + ", " + (max == Double.MAX_VALUE ? "inf)" : max + "]");
            throw ApiException.invalid(field, "must be a number in " + range + ", got " + v);
        }
        return d;
    }
}
