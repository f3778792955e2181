package ai.medqa.chat;

import ai.medqa.tokenizer.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Hugging Face Jinja chat template rendered with Jinjava, configured as transformers configures
 * jinja2 ({@code trim_blocks}, {@code lstrip_blocks}, a {@code raise_exception} function).
 *
 * <p>To know which characters of the output came from messages, each message content is wrapped
 * in two marker characters (Unicode noncharacters absent from every message) and the template is
 * rendered twice, with and without the markers. The markers cut the output into template text and
 * message text; the unmarked render proves the cut is right (the output without markers must be
 * exactly the plain output). A template that changes message text, e.g. with {@code |trim}, would
 * fail that proof: trimming is recognised by a third render with trimmed content; any other change
 * is refused with a {@link ChatTemplateException} rather than guessing where user text lies.
 *
 * <p>Jinjava's nested interpretation (rendering {@code {{ }}} found in a variable's value) is
 * switched off: a message holding {@code {{ bos_token }}} is text, not template code.
 */
final class JinjaChatTemplate extends ChatTemplate {
    private static final Logger LOG = LoggerFactory.getLogger(JinjaChatTemplate.class);
    /** A quoted 'system' or "system" in the template: it compares roles with system itself. */
    private static final Pattern MENTIONS_SYSTEM_ROLE = Pattern.compile("['\"]system['\"]");
    /** A template that reads a {@code tools} variable renders the tools itself (Mistral v0.3's, ...). */
    private static final Pattern MENTIONS_TOOLS = Pattern.compile("\\btools\\b");
    /** Noncharacters U+FDD0..U+FDEF: reserved for internal use, never in text a user means to send. */
    private static final char FIRST_MARKER = '\uFDD0';

    private static final char LAST_MARKER = '\uFDEF';

    private final String source;
    private final boolean foldSystemPrompt;
    private final boolean rendersTools;
    private final Jinjava jinjava;
    private final AtomicBoolean warned = new AtomicBoolean();

    JinjaChatTemplate(Tokenizer tokenizer, String source, boolean foldSystemPrompt) {
        super(tokenizer);
        this.source = asJinja2Reads(Objects.requireNonNull(source, "source"));
        this.foldSystemPrompt = foldSystemPrompt;
        this.rendersTools = MENTIONS_TOOLS.matcher(this.source).find();
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withNestedInterpretationEnabled(false)
                // jinja2's "{{-" and "-}}" strip whitespace as "{%-" does (Mistral v0.3's template writes every
                // piece with them); Jinjava does so only when asked.
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .build())
                .build());
        jinjava.getGlobalContext()
                .registerFunction(new ELFunctionDefinition(
                        "", "raise_exception", JinjaChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFilter(new PythonJson()); // tojson as transformers writes it
        checkSyntax();
    }

    /**
     * jinja2 reads {@code not x is defined} as {@code not (x is defined)}; Jinjava as
     * {@code (not x) is defined}, which is always true (Mistral v0.3's template then drops its tools).
     * Written {@code x is not defined}, both read it as jinja2 does.
     */
    static String asJinja2Reads(String source) {
        return NOT_BEFORE_TEST.matcher(source).replaceAll("$1 is not $2");
    }

    private static final Pattern NOT_BEFORE_TEST =
            Pattern.compile("\\bnot\\s+([A-Za-z_][\\w.]*)\\s+is\\s+(?!not\\b)([A-Za-z_]\\w*)");

    static boolean handlesSystemRole(String source) {
        return MENTIONS_SYSTEM_ROLE.matcher(source).find();
    }

    /** Jinja's {@code raise_exception(message)}: what HF templates call to reject a conversation. */
    public static Object raiseException(String message) {
        throw new RaisedByTemplate(message);
    }

    /** Thrown inside Jinjava by raise_exception; found again in the render's errors. */
    private static final class RaisedByTemplate extends RuntimeException {
        RaisedByTemplate(String message) {
            super(message, null, false, false);
        }
    }

    private void checkSyntax() {
        JinjavaInterpreter interpreter = jinjava.newInterpreter();
        try (var current = JinjavaInterpreter.closeablePushCurrent(interpreter).get()) {
            interpreter.parse(source);
        }
        for (TemplateError error : interpreter.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new ChatTemplateException("chat_template does not parse: " + describe(error));
            }
        }
    }

    @Override
    public boolean rendersTools() {
        return rendersTools;
    }

    @Override
    List<Segment> segments(List<Message> messages, boolean addGenerationPrompt, List<Tools.Tool> tools) {
        List<Message> input = foldSystemPrompt ? foldSystemPrompt(messages) : messages;
        String plain = render(input, tools, UnaryOperator.identity(), addGenerationPrompt);
        String caller = callerText(input, tools);
        char open = unusedMarker(caller, FIRST_MARKER);
        char close = unusedMarker(caller, (char) (open + 1));
        List<Segment> segments =
                split(render(input, tools, content -> open + content + close, addGenerationPrompt), open, close);
        if (segments != null && joined(segments).equals(plain)) {
            return segments;
        }
        // Templates such as Llama 2's write message['content']|trim: mark the trimmed text instead.
        // String.trim() is what Jinjava's trim filter does (characters up to U+0020).
        segments =
                split(render(input, tools, content -> open + content.trim() + close, addGenerationPrompt), open, close);
        if (segments != null && joined(segments).equals(plain)) {
            return segments;
        }
        throw new ChatTemplateException("the chat template changes the text of messages (more than trimming it),"
                + " so the text a user typed cannot be told apart from the template's own text and control"
                + " tokens; refusing to encode it");
    }

    /**
     * Renders the template. {@code mark} wraps every text that came from the caller: message contents
     * and, for tools and tool calls, every string of names, descriptions, parameter schemas and
     * arguments (keys too: a property name is the caller's text). Call ids are not wrapped (templates
     * check their length); {@link Message} allows only letters, digits, {@code _} and {@code -} in them.
     */
    private String render(
            List<Message> messages, List<Tools.Tool> tools, UnaryOperator<String> mark, boolean addGenerationPrompt) {
        List<Map<String, Object>> list = new ArrayList<>(messages.size());
        for (Message message : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", message.role().jsonName());
            if (message.callsTools()) {
                if (!message.content().isEmpty()) {
                    map.put("content", mark.apply(message.content()));
                }
                List<Object> calls = new ArrayList<>();
                for (Tools.Call call : message.toolCalls()) {
                    Map<String, Object> function = new LinkedHashMap<>();
                    function.put("name", mark.apply(call.name()));
                    function.put("arguments", marked(call.arguments(), mark));
                    Map<String, Object> c = new LinkedHashMap<>();
                    c.put("id", call.id());
                    c.put("type", "function");
                    c.put("function", function);
                    calls.add(c);
                }
                map.put("tool_calls", calls);
            } else {
                map.put("content", mark.apply(message.content()));
            }
            if (message.toolCallId() != null) {
                map.put("tool_call_id", message.toolCallId());
            }
            list.add(map);
        }
        Map<String, Object> context = new HashMap<>();
        context.put("messages", list);
        context.put("bos_token", tokenizer.bosToken());
        context.put("eos_token", tokenizer.eosToken());
        context.put("add_generation_prompt", addGenerationPrompt);
        if (tools != null) {
            List<Object> described = new ArrayList<>();
            for (Tools.Tool tool : tools) {
                Map<String, Object> function = new LinkedHashMap<>();
                function.put("name", mark.apply(tool.name()));
                function.put("description", mark.apply(tool.description()));
                function.put("parameters", marked(tool.parameters(), mark));
                Map<String, Object> t = new LinkedHashMap<>();
                t.put("type", "function");
                t.put("function", function);
                described.add(t);
            }
            context.put("tools", described);
        }
        RenderResult result;
        try {
            result = jinjava.renderForResult(source, context);
        } catch (RuntimeException e) {
            // Jinjava reports most problems as errors of the result, a few by throwing.
            throw new ChatTemplateException("chat_template failed: " + e.getMessage(), e);
        }
        // Python stops at the first raise; Jinjava records it and renders on, so report the first.
        for (TemplateError error : result.getErrors()) {
            RaisedByTemplate raised = raisedBy(error.getException());
            if (raised != null) {
                throw new ChatTemplateException(raised.getMessage());
            }
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new ChatTemplateException("chat_template failed: " + describe(error));
            }
            // Usually a construct Jinjava renders differently from jinja2: the prompt may be off.
            if (!warned.getAndSet(true)) {
                LOG.warn("chat_template: {} (warned once per template)", describe(error));
            }
        }
        return result.getOutput();
    }

    /** {@code node} as the maps, lists and values a template sees (as Python's json.loads gives), its strings marked. */
    private static Object marked(JsonNode node, UnaryOperator<String> mark) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isObject()) {
            Map<String, Object> map = new LinkedHashMap<>();
            node.properties().forEach(e -> map.put(mark.apply(e.getKey()), marked(e.getValue(), mark)));
            return map;
        }
        if (node.isArray()) {
            List<Object> list = new ArrayList<>(node.size());
            node.forEach(v -> list.add(marked(v, mark)));
            return list;
        }
        if (node.isTextual()) {
            return mark.apply(node.textValue());
        }
        if (node.isBoolean()) {
            return node.booleanValue();
        }
        if (node.isIntegralNumber()) {
            return node.canConvertToLong() ? (Object) node.longValue() : node.bigIntegerValue();
        }
        return node.doubleValue();
    }

    private static RaisedByTemplate raisedBy(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof RaisedByTemplate raised) {
                return raised;
            }
        }
        return null;
    }

    private static String describe(TemplateError error) {
        return error.getMessage() + (error.getLineno() > 0 ? " (line " + error.getLineno() + ")" : "");
    }

    /** The first noncharacter from {@code from} on that neither the caller's text, a token nor the template holds. */
    private char unusedMarker(String caller, char from) {
        for (char c = from; c <= LAST_MARKER; c++) {
            String marker = String.valueOf(c);
            boolean used = source.contains(marker)
                    || caller.contains(marker)
                    || tokenizer.bosToken().contains(marker)
                    || tokenizer.eosToken().contains(marker);
            if (!used) {
                return c;
            }
        }
        throw new ChatTemplateException("the messages use every character U+FDD0..U+FDEF; MedQA needs one of"
                + " them free to keep message text apart from template text");
    }

    /** Every text of the caller's: message contents, tool calls, tools. */
    private static String callerText(List<Message> messages, List<Tools.Tool> tools) {
        StringBuilder caller = new StringBuilder();
        for (Message message : messages) {
            caller.append(message.content());
            for (Tools.Call call : message.toolCalls()) {
                caller.append(call.name()).append(call.arguments());
            }
        }
        if (tools != null) {
            for (Tools.Tool tool : tools) {
                caller.append(tool.name()).append(tool.description()).append(tool.parameters());
            }
        }
        return caller.toString();
    }

    /** Cuts marked output into segments, or null when the markers do not pair up. */
    private static List<Segment> split(String marked, char open, char close) {
        List<Segment> segments = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        boolean inMessage = false;
        for (int i = 0; i < marked.length(); i++) {
            char c = marked.charAt(i);
            if (c == open || c == close) {
                if ((c == open) == inMessage) {
                    return null;
                }
                if (inMessage) {
                    segments.add(Segment.message(current.toString()));
                } else if (current.length() > 0) {
                    segments.add(Segment.template(current.toString()));
                }
                current.setLength(0);
                inMessage = !inMessage;
            } else {
                current.append(c);
            }
        }
        if (inMessage) {
            return null;
        }
        if (current.length() > 0) {
            segments.add(Segment.template(current.toString()));
        }
        return segments;
    }

    private static String joined(List<Segment> segments) {
        StringBuilder text = new StringBuilder();
        for (Segment segment : segments) {
            text.append(segment.text());
        }
        return text.toString();
    }
}
