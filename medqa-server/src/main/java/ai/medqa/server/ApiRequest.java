package ai.medqa.server;

import ai.medqa.chat.ChatTemplate;
import ai.medqa.chat.Message;
import ai.medqa.chat.Tools;
import ai.medqa.common.Json;
import ai.medqa.generate.CompiledCache;
import ai.medqa.generate.Constraint;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.GenerationConfigException;
import ai.medqa.tokenizer.Tokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Pattern;

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
    /** -1: no logprobs; else how many most likely tokens per step ({@code top_logprobs}, or completions' {@code logprobs}). */
    final int logprobs;

    final Tools tools; // null: no tool calling
    final Constraint constraint; // null: free text (or the tools' constraint)
    private final GenerationConfig.Builder settings;

    private ApiRequest(JsonNode body, boolean chat, String servedName, Set<String> adapters, ChatTemplate template) {
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
            throw ApiException.modelNotFound(m.asText(), servedName, adapters);
        }
        if (chat) {
            // Bound to the model's template: native tool calls where it renders tools (Tools.forTemplate).
            Tools asked = tools(body);
            tools = asked == null ? null : asked.forTemplate(template);
            messages = messages(body.get("messages"));
            prompt = null;
        } else {
            for (String f : new String[] {"tools", "tool_choice"}) {
                if (body.hasNonNull(f)) {
                    throw ApiException.invalid(f, "tools are for chat completions (/v1/chat/completions)");
                }
            }
            tools = null;
            prompt = prompt(body.get("prompt"));
            messages = null;
        }
        logprobs = logprobs(body, chat);
        constraint = tools == null ? constraint(body) : null; // with tools, response_format shapes the reply (tools())
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
        if (constraint != null || tools != null) {
            settings.constraint(tools != null ? tools.constraint() : constraint);
        }
        if (logprobs >= 0) {
            settings.logprobs(logprobs);
        }
    }

    /** OpenAI fields that change what the answer must be, when set to anything but their no-op value. */
    private static void refuseUnsupported(JsonNode body) {
        List<String> asked = new ArrayList<>();
        for (String f : new String[] {"functions", "logit_bias"}) {
            JsonNode v = body.get(f);
            if (v != null && !v.isNull() && !(v.isContainerNode() && v.isEmpty())) {
                asked.add(f);
            }
        }
        JsonNode functionCall = body.get("function_call");
        if (functionCall != null
                && !functionCall.isNull()
                && !(functionCall.isTextual() && functionCall.asText().equals("none"))) {
            asked.add("function_call"); // the deprecated form of tools: use tools and tool_choice
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
            throw ApiException.badRequest(
                    "unsupported_parameter",
                    asked.get(0),
                    String.join(", ", asked) + ": not supported by this server yet; leave "
                            + (asked.size() == 1 ? "it" : "them") + " out (the answer would not follow "
                            + (asked.size() == 1 ? "it" : "them") + ")");
        }
    }

    /** Compiled constraints by their request text: compiling one costs milliseconds to seconds, and clients repeat them. */
    private static final CompiledCache COMPILED = new CompiledCache(64);

    private static <T> T compiled(String key, String field, Supplier<T> compile) {
        try {
            return COMPILED.get(key, compile);
        } catch (IllegalArgumentException e) {
            String m = e.getMessage();
            if (field == null) { // the message starts with the field it is about ("tools[0].function.name: ...")
                int colon = m.indexOf(": ");
                throw ApiException.invalid(
                        colon > 0 ? m.substring(0, colon) : "tools", colon > 0 ? m.substring(colon + 2) : m);
            }
            throw ApiException.invalid(field, m);
        }
    }

    /** Chat: {@code logprobs} true with {@code top_logprobs} 0-20. Completions: {@code logprobs} 0-20. */
    private static int logprobs(JsonNode body, boolean chat) {
        if (!chat) {
            Integer n = integer(body, "logprobs", 0, 20);
            return n == null ? -1 : n;
        }
        boolean on = bool(body, "logprobs", false);
        Integer top = integer(body, "top_logprobs", 0, 20);
        if (top != null && !on) {
            throw ApiException.invalid("top_logprobs", "needs \"logprobs\": true");
        }
        return on ? (top == null ? 0 : top) : -1;
    }

    /**
     * The answer's constraint: {@code response_format} ({@code json_object}, {@code json_schema}) or
     * vLLM's {@code guided_json}, {@code guided_choice}, {@code guided_regex}; one at most.
     */
    private static Constraint constraint(JsonNode body) {
        List<String> given = new ArrayList<>();
        Constraint c = null;
        JsonNode format = body.get("response_format");
        if (format != null && !format.isNull()) {
            if (!format.isObject() || !format.path("type").isTextual()) {
                throw ApiException.invalid(
                        "response_format", "must be {\"type\": \"text\" | \"json_object\" | \"json_schema\"}");
            }
            switch (format.get("type").asText()) {
                case "text" -> {}
                case "json_object" -> {
                    c = compiled("json_object", "response_format", Constraint::jsonObject);
                    given.add("response_format");
                }
                case "json_schema" -> {
                    JsonNode js = format.get("json_schema");
                    if (js == null || !js.isObject()) {
                        throw ApiException.invalid(
                                "response_format.json_schema", "must be an object {name, schema, strict}");
                    }
                    JsonNode schema = js.get("schema");
                    if (schema == null || !schema.isObject()) {
                        throw ApiException.invalid(
                                "response_format.json_schema.schema", "must be a JSON Schema object");
                    }
                    c = compiled(
                            "schema " + schema,
                            "response_format.json_schema.schema",
                            () -> Constraint.jsonSchema(schema));
                    given.add("response_format");
                }
                default ->
                    throw ApiException.invalid(
                            "response_format.type",
                            "must be text, json_object or json_schema, got \""
                                    + format.get("type").asText() + "\"");
            }
        }
        JsonNode guidedJson = body.get("guided_json");
        if (guidedJson != null && !guidedJson.isNull()) {
            if (!guidedJson.isObject()) {
                throw ApiException.invalid("guided_json", "must be a JSON Schema object");
            }
            c = compiled("schema " + guidedJson, "guided_json", () -> Constraint.jsonSchema(guidedJson));
            given.add("guided_json");
        }
        JsonNode choice = body.get("guided_choice");
        if (choice != null && !choice.isNull()) {
            if (!choice.isArray() || choice.isEmpty()) {
                throw ApiException.invalid("guided_choice", "must be a non-empty array of strings");
            }
            List<String> options = new ArrayList<>();
            for (JsonNode o : choice) {
                if (!o.isTextual() || o.asText().isEmpty()) {
                    throw ApiException.invalid("guided_choice", "must be a non-empty array of non-empty strings");
                }
                options.add(o.asText());
            }
            c = compiled("choice " + choice, "guided_choice", () -> Constraint.choice(options.toArray(String[]::new)));
            given.add("guided_choice");
        }
        JsonNode regex = body.get("guided_regex");
        if (regex != null && !regex.isNull()) {
            if (!regex.isTextual() || regex.asText().isEmpty()) {
                throw ApiException.invalid("guided_regex", "must be a non-empty regular expression");
            }
            c = compiled("regex " + regex.asText(), "guided_regex", () -> Constraint.regex(regex.asText()));
            given.add("guided_regex");
        }
        if (given.size() > 1) {
            throw ApiException.invalid(
                    given.get(1),
                    "give one of response_format, guided_json, guided_choice, guided_regex; got "
                            + String.join(" and ", given));
        }
        return c;
    }

    /** OpenAI's {@code tools} and {@code tool_choice}; null when there are none or the choice is "none". */
    private static Tools tools(JsonNode body) {
        JsonNode list = body.get("tools");
        JsonNode choice = body.get("tool_choice");
        if (list == null || list.isNull() || (list.isArray() && list.isEmpty())) {
            if (choice != null
                    && !choice.isNull()
                    && !(choice.isTextual() && choice.asText().equals("none"))) {
                throw ApiException.invalid("tool_choice", "names a tool choice but no tools are given");
            }
            return null;
        }
        if (!list.isArray()) {
            throw ApiException.invalid(
                    "tools",
                    "must be an array of {\"type\": \"function\", \"function\": {name, description, " + "parameters}}");
        }
        List<Tools.Tool> tools = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode t = list.get(i);
            String where = "tools[" + i + "]";
            if (!t.isObject() || !"function".equals(t.path("type").asText())) {
                throw ApiException.invalid(where + ".type", "must be \"function\"");
            }
            JsonNode f = t.get("function");
            if (f == null || !f.isObject()) {
                throw ApiException.invalid(where + ".function", "must be an object {name, description, parameters}");
            }
            if (!f.path("name").isTextual() || f.get("name").asText().isEmpty()) {
                throw ApiException.invalid(where + ".function.name", "is required: the tool's name");
            }
            JsonNode description = f.get("description");
            if (description != null && !description.isNull() && !description.isTextual()) {
                throw ApiException.invalid(where + ".function.description", "must be a string");
            }
            tools.add(new Tools.Tool(
                    f.get("name").asText(),
                    description == null ? null : description.asText(null),
                    f.get("parameters")));
        }
        Tools.Choice how;
        String named = null;
        if (choice == null
                || choice.isNull()
                || (choice.isTextual() && choice.asText().equals("auto"))) {
            how = Tools.Choice.AUTO;
        } else if (choice.isTextual() && choice.asText().equals("none")) {
            return null;
        } else if (choice.isTextual() && choice.asText().equals("required")) {
            how = Tools.Choice.REQUIRED;
        } else if (choice.isObject() && choice.path("function").path("name").isTextual()) {
            how = Tools.Choice.NAMED;
            named = choice.get("function").get("name").asText();
        } else {
            throw ApiException.invalid(
                    "tool_choice",
                    "must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", "
                            + "\"function\": {\"name\": ...}}, got " + choice);
        }
        JsonNode reply = replySchema(body);
        String key = "tools " + how + " " + named + " " + list + " " + reply;
        String namedTool = named;
        return compiled(key, null, () -> Tools.of(tools, how, namedTool, reply));
    }

    /** With tools: the schema of a reply that is not a call, from {@code response_format}; null for text. */
    private static JsonNode replySchema(JsonNode body) {
        for (String guided : new String[] {"guided_json", "guided_choice", "guided_regex"}) {
            if (body.hasNonNull(guided)) {
                throw ApiException.invalid(
                        guided, "cannot be combined with tools (response_format can: it shapes the reply)");
            }
        }
        JsonNode format = body.get("response_format");
        String type = format == null ? "text" : format.path("type").asText("text");
        return switch (type) {
            case "json_object" -> Json.MAPPER.createObjectNode().put("type", "object");
            case "json_schema" -> {
                JsonNode schema = format.path("json_schema").get("schema");
                if (schema == null || !schema.isObject()) {
                    throw ApiException.invalid("response_format.json_schema.schema", "must be a JSON Schema object");
                }
                yield schema;
            }
            default -> null;
        };
    }

    static ApiRequest parse(
            JsonNode body, boolean chat, String servedName, Set<String> adapters, ChatTemplate template) {
        return new ApiRequest(body, chat, servedName, adapters, template);
    }

    /**
     * The prompt ids: a chat's messages through the model's template (with the tools, given to it
     * or described in the prompt, and tool calls and results as the template takes them), or the
     * completion's prompt.
     */
    int[] promptIds(ChatTemplate template, Tokenizer tokenizer) {
        if (!chat) {
            return tokenizer.encode(prompt);
        }
        return Tools.prompt(template, messages, tools);
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

    /**
     * The chat's messages, an assistant's {@code tool_calls} as its calls ({@link Message#toolCalls})
     * and {@code tool} messages as results of the call they name ({@link Message#toolResult}).
     */
    private static List<Message> messages(JsonNode node) {
        if (node == null || !node.isArray() || node.isEmpty()) {
            throw ApiException.invalid("messages", "must be a non-empty array of {role, content}");
        }
        List<Message> out = new ArrayList<>();
        Set<String> callIds = new HashSet<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode msg = node.get(i);
            String where = "messages[" + i + "]";
            if (!msg.isObject() || !msg.path("role").isTextual()) {
                throw ApiException.invalid(where + ".role", "must be one of system, user, assistant, tool");
            }
            String role = msg.get("role").asText();
            if (role.equals("function") || msg.hasNonNull("function_call")) {
                throw ApiException.badRequest(
                        "unsupported_parameter",
                        where + ".role",
                        where + ": function messages (deprecated) are not supported; use tool_calls and role \"tool\"");
            }
            if (role.equals("tool")) {
                JsonNode callId = msg.get("tool_call_id");
                if (callId == null || !callId.isTextual()) {
                    throw ApiException.invalid(where + ".tool_call_id", "is required: the id of the call this answers");
                }
                if (!callIds.contains(callId.asText())) {
                    throw ApiException.invalid(
                            where + ".tool_call_id",
                            "\"" + callId.asText() + "\" is not the id of a tool call of an earlier assistant message");
                }
                out.add(Message.toolResult(callId.asText(), content(msg.get("content"), where + ".content")));
                continue;
            }
            if (role.equals("assistant") && msg.hasNonNull("tool_calls")) {
                List<Tools.Call> calls = toolCalls(msg.get("tool_calls"), where + ".tool_calls");
                calls.forEach(c -> callIds.add(c.id()));
                JsonNode text = msg.get("content");
                out.add(new Message(
                        Message.Role.ASSISTANT,
                        text == null || text.isNull() ? "" : content(text, where + ".content"),
                        calls,
                        null));
                continue;
            }
            String content = content(msg.get("content"), where + ".content");
            switch (role) {
                case "system", "developer" -> out.add(Message.system(content));
                case "user" -> out.add(Message.user(content));
                case "assistant" -> out.add(Message.assistant(content));
                default ->
                    throw ApiException.invalid(
                            where + ".role",
                            "the chat template has no role '" + role + "' (system, user, assistant, tool)");
            }
        }
        return out;
    }

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private static List<Tools.Call> toolCalls(JsonNode calls, String where) {
        if (!calls.isArray() || calls.isEmpty()) {
            throw ApiException.invalid(where, "must be a non-empty array of {id, type, function: {name, arguments}}");
        }
        List<Tools.Call> out = new ArrayList<>();
        for (int i = 0; i < calls.size(); i++) {
            JsonNode c = calls.get(i);
            JsonNode f = c.path("function");
            if (!f.path("name").isTextual() || !f.path("arguments").isTextual()) {
                throw ApiException.invalid(
                        where + "[" + i + "].function", "must have a name and arguments (a JSON string)");
            }
            JsonNode args;
            try {
                args = Json.MAPPER.readTree(f.get("arguments").asText());
            } catch (JsonProcessingException e) {
                throw ApiException.invalid(
                        where + "[" + i + "].function.arguments", "must be a JSON object as a string");
            }
            if (!c.path("id").isTextual() || !ID.matcher(c.get("id").asText()).matches()) {
                throw ApiException.invalid(
                        where + "[" + i + "].id",
                        "must be 1-64 letters, digits, _ or - (the id a tool message answers)");
            }
            out.add(new Tools.Call(c.get("id").asText(), f.get("name").asText(), args));
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
                if (!"text".equals(part.path("type").asText())
                        || !part.path("text").isTextual()) {
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
