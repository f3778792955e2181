package ai.medqa.chat;

import ai.medqa.common.Json;
import ai.medqa.generate.Constraint;
import ai.medqa.tokenizer.Tokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Tool calling. A chat template that renders tools itself and a tokenizer with Mistral's
 * {@code [TOOL_CALLS]} control token (Mistral v0.3's) get them natively ({@link #forTemplate}): the
 * template receives the tools, tool calls and tool results as structured data, as transformers'
 * {@code apply_chat_template(messages, tools=...)} gives them, and the answer is constrained to the
 * model's own syntax, {@code [TOOL_CALLS] [{"name": ..., "arguments": {...}}]} (calls get the 9
 * letters and digits such templates demand as ids), or a reply that does not start with it.
 *
 * <p>For any other template (Mistral v0.1/v0.2's), the generic way llama.cpp uses for such templates. The tools are described in the system prompt, and
 * the answer is constrained ({@link Constraint}) to one JSON object, either calls of the tools
 * ({@code {"tool_calls": [{"name": ..., "arguments": {...}}]}}, arguments valid against each tool's
 * parameter schema) or a reply ({@code {"response": "..."}}); {@link #parse} reads it back. Calls and
 * tool results of earlier turns are written into the conversation as the model would have written
 * them ({@link #callsText}) and as a user turn ({@link #resultsText}), so any template renders them.
 */
public final class Tools {
    private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");
    /** Calls in one answer, at most (parallel tool calls; a bound keeps the grammar regular and small). */
    public static final int MAX_CALLS = 4;

    /** One tool: OpenAI's function {name, description, parameters (a JSON Schema)}. */
    public record Tool(String name, String description, JsonNode parameters) {
        public Tool {
            Objects.requireNonNull(name, "name");
            description = description == null ? "" : description;
            // No parameters, or {}: a call with no arguments (an object), not "any JSON value".
            parameters = parameters == null || parameters.isNull() || (parameters.isObject() && parameters.isEmpty())
                    ? Json.MAPPER
                            .createObjectNode()
                            .put("type", "object")
                            .set("properties", Json.MAPPER.createObjectNode())
                    : parameters;
        }
    }

    /** A call the model made: {@code arguments} is a JSON object valid against the tool's parameters. */
    public record Call(String id, String name, JsonNode arguments) {}

    /** What the model answered: either {@code calls} (non-empty) or {@code content}. */
    public record Reply(String content, List<Call> calls) {
        public boolean isCall() {
            return !calls.isEmpty();
        }
    }

    /** OpenAI's {@code tool_choice}: {@code auto}, {@code required}, or one tool by name ({@code none} = no tools). */
    public enum Choice {
        AUTO,
        REQUIRED,
        NAMED
    }

    /** Mistral's control token before tool calls (v0.3 and later). */
    public static final String MISTRAL_CALLS_TOKEN = "[TOOL_CALLS]";

    private static final String ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private final List<Tool> tools;
    private final Choice choice;
    private final String named; // NAMED: the tool's name
    private final JsonNode response; // the reply's schema; null: free text
    private final Constraint constraint;
    private final boolean nativeSyntax; // the template renders tools; answers in Mistral's syntax
    private final int controlId; // native: the [TOOL_CALLS] token's id; else -1
    private volatile Tools nativeForm; // this request's tools in native form, made once

    private Tools(List<Tool> tools, Choice choice, String named, JsonNode response, int controlId) {
        this.tools = List.copyOf(tools);
        this.choice = choice;
        this.named = named;
        this.response = response;
        this.controlId = controlId;
        this.nativeSyntax = controlId >= 0;
        this.constraint = nativeSyntax
                ? Constraint.controlTokenThenJson(
                        MISTRAL_CALLS_TOKEN, callsArraySchema(), choice == Choice.AUTO, response)
                : Constraint.jsonSchema(schema());
    }

    /**
     * Tools for one request.
     *
     * @param named the tool that must be called when {@code choice} is NAMED, else null
     * @throws IllegalArgumentException naming the tool ({@code tools[i]...}) or the choice that is wrong
     */
    public static Tools of(List<Tool> tools, Choice choice, String named) {
        return of(tools, choice, named, null);
    }

    /**
     * Tools for one request whose reply, when the model replies instead of calling, is JSON valid
     * against {@code response} (a JSON Schema; {@link #parse} then gives the reply as that JSON's text).
     *
     * @param response the reply's schema, or null for a text reply
     */
    public static Tools of(List<Tool> tools, Choice choice, String named, JsonNode response) {
        if (tools.isEmpty()) {
            throw new IllegalArgumentException("tools: at least one tool is needed");
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < tools.size(); i++) {
            String name = tools.get(i).name();
            if (!NAME.matcher(name).matches()) {
                throw new IllegalArgumentException(
                        "tools[" + i + "].function.name: must be 1-64 letters, digits, _ or -, got \"" + name + "\"");
            }
            if (!names.add(name)) {
                throw new IllegalArgumentException("tools[" + i + "].function.name: \"" + name + "\" is given twice");
            }
            JsonNode p = tools.get(i).parameters();
            if (!p.isObject()) {
                throw new IllegalArgumentException(
                        "tools[" + i + "].function.parameters: must be a JSON Schema object");
            }
            try {
                Constraint.jsonSchema(p);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("tools[" + i + "].function.parameters: " + e.getMessage(), e);
            }
        }
        if (response != null) {
            try {
                Constraint.jsonSchema(response);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("response_format.json_schema.schema: " + e.getMessage(), e);
            }
        }
        if (choice == Choice.NAMED && !names.contains(named)) {
            throw new IllegalArgumentException(
                    "tool_choice: no tool is named \"" + named + "\" (tools: " + String.join(", ", names) + ")");
        }
        return new Tools(tools, choice, choice == Choice.NAMED ? named : null, response, -1);
    }

    /** Whether a reply must follow a JSON Schema (it is then JSON, not text). */
    public boolean hasReplySchema() {
        return response != null;
    }

    /**
     * These tools for {@code template}: in native form when it renders tools itself and its tokenizer
     * has Mistral's {@code [TOOL_CALLS]} control token, else this (the generic form). Made once per
     * instance.
     */
    public Tools forTemplate(ChatTemplate template) {
        int id = template.rendersTools() ? callsTokenId(template.tokenizer) : -1;
        if (nativeSyntax || id < 0) {
            return this;
        }
        Tools n = nativeForm;
        if (n == null || n.controlId != id) {
            n = new Tools(tools, choice, named, response, id);
            nativeForm = n;
        }
        return n;
    }

    /** Whether answers are in the model's own syntax (the template renders the tools). */
    public boolean isNative() {
        return nativeSyntax;
    }

    /** In native form, the id of the control token before calls; else -1. */
    int controlId() {
        return controlId;
    }

    private static int callsTokenId(Tokenizer tokenizer) {
        int id = tokenizer.idOf(MISTRAL_CALLS_TOKEN);
        return id >= 0 && tokenizer.isSpecial(id) ? id : -1;
    }

    /**
     * The prompt ids of {@code messages} (which may hold tool calls and tool results) with these
     * tools: given to the template in native form, described in the system prompt otherwise.
     */
    public int[] encode(ChatTemplate template, List<Message> messages) {
        return nativeSyntax ? template.encode(messages, tools) : template.encode(describeIn(messages));
    }

    /**
     * The prompt ids of a chat: with {@code tools} (null: none) as {@link #encode(ChatTemplate, List)},
     * without them any tool calls and results of earlier turns written as text turns ({@link #asText}).
     */
    public static int[] prompt(ChatTemplate template, List<Message> messages, Tools tools) {
        return tools != null ? tools.encode(template, messages) : template.encode(asText(messages));
    }

    /**
     * A fresh id for a call: as OpenAI writes them ({@code call_} and 24 hex digits), or in native
     * form 9 letters and digits (Mistral's templates refuse other ids).
     */
    String newCallId() {
        if (nativeSyntax) {
            StringBuilder id = new StringBuilder(9);
            ThreadLocalRandom random = ThreadLocalRandom.current();
            for (int i = 0; i < 9; i++) {
                id.append(ALNUM.charAt(random.nextInt(ALNUM.length())));
            }
            return id.toString();
        }
        return "call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
    }

    /** The constraint the answer follows. */
    public Constraint constraint() {
        return constraint;
    }

    /** The calls as a JSON array: each item one tool's {@code {"name": ..., "arguments": {...}}}. */
    private ObjectNode callsArraySchema() {
        ArrayNode calls = Json.MAPPER.createArrayNode();
        for (Tool t : tools) {
            if (named != null && !t.name().equals(named)) {
                continue;
            }
            ObjectNode call = calls.addObject().put("type", "object");
            ObjectNode props = call.putObject("properties");
            props.putObject("name").put("const", t.name());
            props.set("arguments", t.parameters());
            call.putArray("required").add("name").add("arguments");
        }
        ObjectNode array = Json.MAPPER
                .createObjectNode()
                .put("type", "array")
                .put("minItems", 1)
                .put("maxItems", named != null ? 1 : MAX_CALLS);
        array.putObject("items").set("anyOf", calls);
        return array;
    }

    private JsonNode schema() {
        ObjectNode callsSchema = Json.MAPPER.createObjectNode().put("type", "object");
        callsSchema.putObject("properties").set("tool_calls", callsArraySchema());
        callsSchema.putArray("required").add("tool_calls");
        if (choice != Choice.AUTO) {
            return callsSchema;
        }
        ObjectNode reply = Json.MAPPER.createObjectNode().put("type", "object");
        if (this.response == null) {
            reply.putObject("properties").putObject("response").put("type", "string");
        } else {
            reply.putObject("properties").set("response", this.response);
        }
        reply.putArray("required").add("response");
        ObjectNode either = Json.MAPPER.createObjectNode();
        either.putArray("anyOf").add(callsSchema).add(reply);
        return either;
    }

    /**
     * {@code messages} with the tools described at the start of the system prompt (one is added if
     * there is none): what each tool does, its parameters, and the JSON the answer must be.
     */
    public List<Message> describeIn(List<Message> messages) {
        messages = asText(messages);
        StringBuilder s = new StringBuilder("You can call these tools (JSON Schema of each one's arguments):\n");
        for (Tool t : tools) {
            s.append("- ").append(t.name());
            if (!t.description().isBlank()) {
                s.append(": ").append(t.description().strip());
            }
            s.append("\n  arguments: ").append(t.parameters().toString()).append('\n');
        }
        s.append(
                switch (choice) {
                    case AUTO ->
                        "Answer in JSON: either {\"tool_calls\": [{\"name\": TOOL, \"arguments\": {...}}]} to call tools, "
                                + (response == null
                                        ? "or {\"response\": \"...\"} to reply to the user."
                                        : "or {\"response\": REPLY} to reply to the user, REPLY following this JSON Schema: "
                                                + response);
                    case REQUIRED ->
                        "Answer in JSON by calling tools: {\"tool_calls\": [{\"name\": TOOL, \"arguments\": {...}}]}.";
                    case NAMED ->
                        "Answer in JSON by calling " + named + ": {\"tool_calls\": [{\"name\": \"" + named
                                + "\", \"arguments\": {...}}]}.";
                });
        s.append(" Tool results come back as {\"tool_results\": [...]}.");
        List<Message> out = new ArrayList<>();
        if (!messages.isEmpty() && messages.get(0).role() == Message.Role.SYSTEM) {
            out.add(Message.system(s + "\n\n" + messages.get(0).content()));
            out.addAll(messages.subList(1, messages.size()));
        } else {
            out.add(Message.system(s.toString()));
            out.addAll(messages);
        }
        return out;
    }

    /**
     * {@code messages} with tool calls and results written as text turns, for a template that does
     * not render them: an assistant's calls as {@link #callsText}, consecutive tool results as one
     * user turn of {@link #resultsText}, each named by the call it answers.
     */
    public static List<Message> asText(List<Message> messages) {
        List<Message> out = new ArrayList<>(messages.size());
        Map<String, String> callNames = new HashMap<>();
        List<String> names = new ArrayList<>();
        List<String> contents = new ArrayList<>();
        for (Message m : messages) {
            if (m.role() == Message.Role.TOOL) {
                names.add(callNames.get(m.toolCallId()));
                contents.add(m.content());
                continue;
            }
            if (!contents.isEmpty()) {
                out.add(Message.user(resultsText(names, contents)));
                names.clear();
                contents.clear();
            }
            if (m.callsTools()) {
                m.toolCalls().forEach(c -> callNames.put(c.id(), c.name()));
                out.add(Message.assistant(callsText(m.toolCalls())));
            } else {
                out.add(m);
            }
        }
        if (!contents.isEmpty()) {
            out.add(Message.user(resultsText(names, contents)));
        }
        return out;
    }

    /** An assistant turn that made {@code calls}, as the model writes it. */
    public static String callsText(List<Call> calls) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        ArrayNode a = o.putArray("tool_calls");
        for (Call c : calls) {
            a.addObject().put("name", c.name()).set("arguments", c.arguments());
        }
        return o.toString();
    }

    /** Tool results, as the user turn that carries them back: {@code [{name, content}]}. */
    public static String resultsText(List<String> names, List<String> contents) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        ArrayNode a = o.putArray("tool_results");
        for (int i = 0; i < contents.size(); i++) {
            ObjectNode r = a.addObject();
            if (names.get(i) != null) {
                r.put("name", names.get(i));
            }
            r.put("content", contents.get(i));
        }
        return o.toString();
    }

    /**
     * The model's answer read back: its tool calls (each with a fresh {@code call_...} id), or its
     * reply. The answer was constrained, so it parses; a cut one (the budget ran out) does not.
     *
     * @throws IllegalArgumentException if {@code text} is not a complete answer
     */
    public Reply parse(String text) {
        if (nativeSyntax) {
            throw new IllegalStateException(
                    "native tool calls are told apart by their control token: parse(tokens, text)");
        }
        return parseGeneric(text);
    }

    /**
     * The model's answer read back from its generated {@code tokens} and their {@code text}. In native
     * form, calls follow the {@code [TOOL_CALLS]} token and anything else is the reply (its leading
     * blanks dropped); otherwise as {@link #parse(String)}.
     *
     * @throws IllegalArgumentException if the answer is not complete (cut by the token budget)
     */
    public Reply parse(int[] tokens, String text) {
        if (!nativeSyntax) {
            return parseGeneric(text);
        }
        for (int t : tokens) {
            if (t == controlId) {
                return parseGeneric("{\"tool_calls\": " + text.strip() + "}");
            }
        }
        String reply = text.stripLeading();
        if (response != null) {
            try {
                Json.MAPPER.readTree(reply);
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException(
                        "the reply is not complete JSON (was it cut by max_tokens?): " + text, e);
            }
        }
        return new Reply(reply, List.of());
    }

    private Reply parseGeneric(String text) {
        JsonNode answer;
        try {
            answer = Json.MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(
                    "the answer is not complete JSON (was it cut by max_tokens?): " + text, e);
        }
        if (answer != null && answer.has("tool_calls")) {
            List<Call> calls = new ArrayList<>();
            for (JsonNode c : answer.get("tool_calls")) {
                calls.add(new Call(newCallId(), c.path("name").asText(), c.get("arguments")));
            }
            return new Reply(null, List.copyOf(calls));
        }
        if (answer != null && answer.has("response")) {
            JsonNode reply = answer.get("response");
            return new Reply(reply.isTextual() && response == null ? reply.asText() : reply.toString(), List.of());
        }
        throw new IllegalArgumentException("the answer is neither tool calls nor a response: " + text);
    }
}
