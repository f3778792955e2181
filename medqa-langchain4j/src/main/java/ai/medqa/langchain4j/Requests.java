package ai.medqa.langchain4j;

import ai.medqa.MedQA;
import ai.medqa.chat.Message;
import ai.medqa.chat.ToolStream;
import ai.medqa.chat.Tools;
import ai.medqa.common.Json;
import ai.medqa.generate.BatchEngine;
import ai.medqa.generate.CompiledCache;
import ai.medqa.generate.Constraint;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.StopReason;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.internal.JsonSchemaElementJsonUtils;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * The mapping both models share: langchain4j messages to the model's chat template, request
 * parameters over the model's defaults to a {@link GenerationConfig}, and a {@link Generation} back
 * to a {@link ChatResponse}; tool specifications and JSON response formats become constraints on the
 * answer ({@link Tools}, {@link Constraint}). Requests go through a {@link BatchEngine}, so concurrent calls decode
 * together and {@code modelName} can pick a LoRA adapter per request.
 */
final class Requests implements AutoCloseable {
    private final MedQA medqa;
    private final GenerationConfig defaults;
    private final String modelName;
    private final BatchEngine engine;
    private final CompiledCache compiled = new CompiledCache(64);

    Requests(MedQA medqa, GenerationConfig defaults, String modelName, int maxBatch) {
        this.medqa = Objects.requireNonNull(medqa, "medqa");
        this.defaults = Objects.requireNonNull(defaults, "defaults");
        this.modelName = Objects.requireNonNull(modelName, "modelName");
        this.engine = medqa.newEngine(maxBatch, 1024);
    }

    /** A queued request, and with tools the reader of its answer (whose call ids the response keeps). */
    record Job(BatchEngine.Request request, ToolStream tools) {}

    /**
     * Queues the request; {@code listener} hears the answer as it comes: its text ({@code reply}), or
     * with tools a reply's text or each call (name, then its arguments piece by piece).
     */
    Job submit(ChatRequest request, ToolStream.Listener listener) {
        ChatRequestParameters p = request.parameters();
        if (p.frequencyPenalty() != null || p.presencePenalty() != null) {
            throw new UnsupportedFeatureException("frequency and presence penalties are not supported; "
                    + "use repetition_penalty in the model's default GenerationConfig");
        }
        String adapter = medqa.adapterForModel("modelName", p.modelName(), modelName);
        Tools tools = tools(p);
        Constraint format = tools == null ? responseFormat(p.responseFormat()) : null;
        List<Message> messages = messages(request.messages());
        int[] prompt = Tools.prompt(medqa.chatTemplate(), messages, tools);
        GenerationConfig config = config(p);
        if (tools != null || format != null) {
            config = config.toBuilder()
                    .constraint(tools != null ? tools.constraint() : format)
                    .build();
        }
        // With tools ToolStream reads the answer as it comes (every token: a native call starts with a
        // control token that has no text).
        ToolStream stream = tools == null ? null : new ToolStream(tools, listener);
        BatchEngine.Request job = engine.submit(prompt, config, adapter, (id, text) -> {
            if (stream != null) {
                stream.push(id, text);
            } else if (!text.isEmpty()) {
                listener.reply(text);
            }
        });
        return new Job(job, stream);
    }

    /** The request's tools, or null (none, or {@code ToolChoice.NONE}). */
    Tools tools(ChatRequestParameters p) {
        List<ToolSpecification> specs = p.toolSpecifications();
        if (specs == null
                || specs.isEmpty()
                || (p.toolChoice() != null && p.toolChoice().name().equals("NONE"))) {
            return null;
        }
        List<Tools.Tool> tools = new ArrayList<>();
        for (ToolSpecification spec : specs) {
            tools.add(new Tools.Tool(
                    spec.name(),
                    spec.description(),
                    spec.parameters() == null
                            ? null
                            : Json.MAPPER.valueToTree(JsonSchemaElementJsonUtils.toMap(spec.parameters()))));
        }
        Tools.Choice choice = p.toolChoice() == ToolChoice.REQUIRED ? Tools.Choice.REQUIRED : Tools.Choice.AUTO;
        JsonNode reply = replySchema(p.responseFormat()); // AiServices asks for tools and a record together
        return compiled.get("tools " + choice + " " + specs + " " + reply, () -> Tools.of(tools, choice, null, reply))
                .forTemplate(medqa.chatTemplate()); // the model's own tool syntax where its template renders tools
    }

    private static JsonNode replySchema(ResponseFormat format) {
        if (format == null || format.type() == ResponseFormatType.TEXT) {
            return null;
        }
        if (format.jsonSchema() == null || format.jsonSchema().rootElement() == null) {
            return Json.MAPPER.createObjectNode().put("type", "object");
        }
        return Json.MAPPER.valueToTree(
                JsonSchemaElementJsonUtils.toMap(format.jsonSchema().rootElement()));
    }

    /** JSON (any object, or a schema's) as langchain4j's {@link ResponseFormat} asks; null for text. */
    Constraint responseFormat(ResponseFormat format) {
        if (format == null || format.type() == ResponseFormatType.TEXT) {
            return null;
        }
        JsonNode schema = replySchema(format);
        return compiled.get("schema " + schema, () -> Constraint.jsonSchema(schema));
    }

    GenerationConfig config(ChatRequestParameters p) {
        return defaults.toBuilder()
                .chatOverrides(p.temperature(), p.topP(), p.topK(), p.maxOutputTokens(), p.stopSequences())
                .build();
    }

    /**
     * langchain4j's messages as the chat template's: an AI message with tool requests becomes an
     * assistant turn of calls, a tool result a tool message ({@link Tools} writes both as text turns
     * for a template that does not render them).
     */
    static List<Message> messages(List<ChatMessage> messages) {
        List<Message> out = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            if (m instanceof ToolExecutionResultMessage r) {
                // A result without the id of its call can only be written as text (named by its tool).
                out.add(
                        r.id() == null
                                ? Message.user(
                                        Tools.resultsText(Collections.singletonList(r.toolName()), List.of(r.text())))
                                : Message.toolResult(r.id(), r.text()));
            } else if (m instanceof SystemMessage s) {
                out.add(Message.system(s.text()));
            } else if (m instanceof UserMessage u) {
                if (!u.hasSingleText()) {
                    throw new UnsupportedFeatureException("only text user messages are supported");
                }
                out.add(Message.user(u.singleText()));
            } else if (m instanceof AiMessage a) {
                if (a.hasToolExecutionRequests()) {
                    List<Tools.Call> calls = new ArrayList<>();
                    for (ToolExecutionRequest t : a.toolExecutionRequests()) {
                        calls.add(new Tools.Call(t.id(), t.name(), arguments(t)));
                    }
                    boolean ids = calls.stream().allMatch(c -> c.id() != null);
                    out.add(
                            ids
                                    ? new Message(Message.Role.ASSISTANT, a.text() == null ? "" : a.text(), calls, null)
                                    : Message.assistant(Tools.callsText(calls)));
                } else {
                    out.add(Message.assistant(a.text() == null ? "" : a.text()));
                }
            } else {
                throw new UnsupportedFeatureException("messages of type " + m.type() + " are not supported");
            }
        }
        return out;
    }

    private static JsonNode arguments(ToolExecutionRequest t) {
        try {
            return Json.MAPPER.readTree(t.arguments() == null || t.arguments().isBlank() ? "{}" : t.arguments());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(
                    "tool request " + t.name() + ": arguments are not JSON: " + t.arguments(), e);
        }
    }

    /**
     * The answer as langchain4j's response: with tools, its tool requests (finish reason
     * TOOL_EXECUTION; with the ids the stream announced them with) or its reply.
     */
    ChatResponse response(Job job, Generation g, ChatRequestParameters p) {
        int prompt = job.request().promptTokens();
        FinishReason finish = g.stopReason() == StopReason.EOS
                        || g.stopReason() == StopReason.STOP_STRING
                        || g.stopReason() == StopReason.CONSTRAINT_COMPLETE
                ? FinishReason.STOP
                : FinishReason.LENGTH;
        AiMessage message = AiMessage.from(g.text());
        Tools tools = tools(p);
        if (job.tools() != null) {
            job.tools().end();
        }
        if (tools != null && finish == FinishReason.STOP) {
            Tools.Reply reply = tools.parse(g.tokens(), g.text());
            if (reply.isCall()) {
                List<ToolExecutionRequest> calls = new ArrayList<>();
                List<Tools.Call> streamed =
                        job.tools() == null ? List.of() : job.tools().calls();
                for (int i = 0; i < reply.calls().size(); i++) {
                    Tools.Call c = reply.calls().get(i);
                    String id = i < streamed.size() ? streamed.get(i).id() : c.id();
                    calls.add(ToolExecutionRequest.builder()
                            .id(id)
                            .name(c.name())
                            .arguments(c.arguments().toString())
                            .build());
                }
                message = AiMessage.from(calls);
                finish = FinishReason.TOOL_EXECUTION;
            } else {
                message = AiMessage.from(reply.content());
            }
        }
        String adapter = p.modelName();
        return ChatResponse.builder()
                .aiMessage(message)
                .modelName(adapter != null ? adapter : modelName)
                .tokenUsage(new TokenUsage(prompt, g.tokens().length, prompt + g.tokens().length))
                .finishReason(finish)
                .build();
    }

    @Override
    public void close() {
        engine.close();
    }
}
