package ai.medqa.springai;

import ai.medqa.MedQA;
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
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.ToolResponseMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.metadata.ChatGenerationMetadata;
import org.springframework.ai.chat.metadata.ChatResponseMetadata;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.observation.ChatModelObservationContext;
import org.springframework.ai.chat.observation.ChatModelObservationConvention;
import org.springframework.ai.chat.observation.ChatModelObservationDocumentation;
import org.springframework.ai.chat.observation.DefaultChatModelObservationConvention;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.model.tool.StructuredOutputChatOptions;
import org.springframework.ai.model.tool.ToolCallingChatOptions;
import org.springframework.ai.tool.ToolCallback;
import org.springframework.ai.tool.definition.ToolDefinition;
import reactor.core.publisher.Flux;

/**
 * A Spring AI {@link ChatModel} (and streaming model) backed by an in-process {@link MedQA}, through
 * its batching engine: concurrent calls decode together, and the options' model name picks a LoRA
 * adapter per call. Messages go through the model's chat template; {@link MedQAChatOptions} (or any
 * {@link ChatOptions}) override the default {@link GenerationConfig}. Tools (Spring AI's tool
 * callbacks, executed by {@code ChatClient}'s tool-calling advisor) and native structured output
 * (an output schema) are enforced while decoding ({@link Tools}, {@link Constraint}), so the answer
 * always parses. Responses carry usage and the finish reason ({@code STOP}, {@code LENGTH},
 * {@code TOOL_CALLS}); calls are observed through Spring AI's chat-model observation convention.
 * Thread-safe. Close it before the {@link MedQA}.
 *
 * <pre>{@code
 * ChatClient chat = ChatClient.create(MedQAChatModel.builder(medqa).build());
 * String answer = chat.prompt().user("Does metformin cause lactic acidosis?").call().content();
 * }</pre>
 */
public final class MedQAChatModel implements ChatModel, AutoCloseable {
    /** The provider name observations carry ({@code gen_ai.system}). */
    public static final String PROVIDER = "medqa";

    private static final ChatModelObservationConvention DEFAULT_CONVENTION =
            new DefaultChatModelObservationConvention();

    private final MedQA medqa;
    private final GenerationConfig defaults;
    private final String modelName;
    private final MedQAChatOptions options;
    private final BatchEngine engine;
    private final ObservationRegistry observations;
    private volatile ChatModelObservationConvention convention = DEFAULT_CONVENTION;
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong promptTokens = new AtomicLong();
    private final AtomicLong completionTokens = new AtomicLong();
    private final CompiledCache compiled = new CompiledCache(64);

    private MedQAChatModel(Builder b) {
        this.medqa = b.medqa;
        this.defaults = b.defaults;
        this.modelName = b.modelName;
        this.options = MedQAChatOptions.builder().model(b.modelName).build();
        this.observations = b.observations;
        this.engine = medqa.newEngine(b.maxBatch, b.maxQueue);
    }

    /** A model over {@code medqa}: MedQA's ask defaults, named "medqa", up to 8 rows decoded together. */
    public static Builder builder(MedQA medqa) {
        return new Builder(medqa);
    }

    /** What a call leaves unset comes from here: the base model's name (other settings: the default GenerationConfig). */
    @Override
    public MedQAChatOptions getOptions() {
        return options;
    }

    /** Counts for meters: completed calls and their tokens, and the engine's rows now. */
    public record Stats(long requests, long promptTokens, long completionTokens, int runningRows, int queuedRequests) {}

    public Stats stats() {
        return new Stats(requests.get(), promptTokens.get(), completionTokens.get(), engine.running(), engine.queued());
    }

    /** The name of the base model (the options' model names it, or an adapter). */
    public String modelName() {
        return modelName;
    }

    public void setObservationConvention(ChatModelObservationConvention convention) {
        this.convention = Objects.requireNonNull(convention, "convention");
    }

    @Override
    public ChatResponse call(Prompt prompt) {
        Call call = prepare(prompt);
        ChatModelObservationContext context = ChatModelObservationContext.builder()
                .prompt(call.prompt())
                .provider(PROVIDER)
                .build();
        return ChatModelObservationDocumentation.CHAT_MODEL_OPERATION
                .observation(convention, DEFAULT_CONVENTION, () -> context, observations)
                .observe(() -> {
                    BatchEngine.Request job =
                            engine.submit(call.ids(), call.config(), call.adapter(), (id, text) -> {});
                    ChatResponse response = response(call, job, job.join());
                    context.setResponse(response);
                    return response;
                });
    }

    /**
     * The answer piece by piece as its text becomes final, then one last response with no text that
     * carries the finish reason and usage. With tools a reply streams the same way; tool calls come
     * whole in the last response. Cancelling the subscription stops the row at the next step.
     */
    @Override
    public Flux<ChatResponse> stream(Prompt prompt) {
        return Flux.defer(() -> {
            Call call = prepare(prompt);
            ChatModelObservationContext context = ChatModelObservationContext.builder()
                    .prompt(call.prompt())
                    .provider(PROVIDER)
                    .streaming(true)
                    .build();
            Observation observation = ChatModelObservationDocumentation.CHAT_MODEL_OPERATION.observation(
                    convention, DEFAULT_CONVENTION, () -> context, observations);
            observation.start();
            Flux<ChatResponse> answer = Flux.create(sink -> {
                // With tools the answer is JSON: a reply streams as its text (ToolStream); calls come whole.
                ToolStream replies = call.tools() == null
                        ? null
                        : new ToolStream(call.tools(), text -> sink.next(piece(call, text)));
                BatchEngine.Request job = engine.submit(call.ids(), call.config(), call.adapter(), (id, text) -> {
                    if (replies != null) {
                        replies.push(id, text); // every token: a native call starts with a control token, no text
                    } else if (!text.isEmpty()) {
                        sink.next(piece(call, text));
                    }
                });
                sink.onCancel(job::cancel);
                // Off the engine's thread: a subscriber that blocks must not stall decoding.
                job.result().whenCompleteAsync((g, error) -> {
                    if (error != null) {
                        sink.error(error);
                        return;
                    }
                    try {
                        ChatResponse whole = response(call, job, g);
                        context.setResponse(whole);
                        if (whole.hasToolCalls()) {
                            sink.next(whole);
                        } else {
                            sink.next(new ChatResponse(
                                    List.of(new org.springframework.ai.chat.model.Generation(
                                            new AssistantMessage(""),
                                            whole.getResult().getMetadata())),
                                    whole.getMetadata()));
                        }
                        sink.complete();
                    } catch (RuntimeException e) {
                        sink.error(e);
                    }
                });
            });
            return answer.doOnError(observation::error).doFinally(s -> observation.stop());
        });
    }

    /** One request as MedQA runs it. */
    private record Call(Prompt prompt, int[] ids, GenerationConfig config, String adapter, Tools tools, String model) {}

    private Call prepare(Prompt prompt) {
        ChatOptions o = prompt.getOptions() != null ? prompt.getOptions() : options;
        if (o.getFrequencyPenalty() != null || o.getPresencePenalty() != null) {
            throw new IllegalArgumentException("frequencyPenalty and presencePenalty are not supported by MedQA; "
                    + "use MedQAChatOptions.repetitionPenalty");
        }
        String adapter = medqa.adapterForModel("model", o.getModel(), modelName);
        Tools tools = tools(o);
        String schema = o instanceof MedQAChatOptions m
                ? m.getOutputSchema()
                : o instanceof StructuredOutputChatOptions s ? s.getOutputSchema() : null;
        Constraint format = tools == null && schema != null
                ? compiled.get("schema " + schema, () -> Constraint.jsonSchema(json(schema, "outputSchema")))
                : null;
        List<ai.medqa.chat.Message> messages = messages(prompt.getInstructions());
        int[] ids = Tools.prompt(medqa.chatTemplate(), messages, tools);
        GenerationConfig config = config(o);
        if (tools != null || format != null) {
            config = config.toBuilder()
                    .constraint(tools != null ? tools.constraint() : format)
                    .build();
        }
        Prompt resolved = prompt.getOptions() != null
                ? prompt
                : prompt.mutate().chatOptions(options).build();
        return new Call(resolved, ids, config, adapter, tools, adapter != null ? adapter : modelName);
    }

    private Tools tools(ChatOptions o) {
        if (!(o instanceof ToolCallingChatOptions t)
                || t.getToolCallbacks() == null
                || t.getToolCallbacks().isEmpty()) {
            return null;
        }
        List<Tools.Tool> tools = new ArrayList<>();
        StringBuilder key = new StringBuilder("tools");
        for (ToolCallback callback : t.getToolCallbacks()) {
            ToolDefinition d = callback.getToolDefinition();
            tools.add(new Tools.Tool(
                    d.name(), d.description(), json(d.inputSchema(), "tool " + d.name() + " input schema")));
            key.append(' ').append(d.name()).append(' ').append(d.inputSchema());
        }
        String schema = o instanceof StructuredOutputChatOptions s ? s.getOutputSchema() : null;
        JsonNode reply =
                schema == null ? null : json(schema, "outputSchema"); // entity() with tools: the reply's schema
        key.append(" reply ").append(schema);
        return compiled.get(key.toString(), () -> Tools.of(tools, Tools.Choice.AUTO, null, reply))
                .forTemplate(medqa.chatTemplate()); // the model's own tool syntax where its template renders tools
    }

    private static JsonNode json(String text, String what) {
        try {
            return Json.MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(what + " is not JSON: " + e.getOriginalMessage(), e);
        }
    }

    private GenerationConfig config(ChatOptions o) {
        GenerationConfig.Builder b = defaults.toBuilder()
                .chatOverrides(o.getTemperature(), o.getTopP(), o.getTopK(), o.getMaxTokens(), o.getStopSequences());
        if (o instanceof MedQAChatOptions m) {
            if (m.getSeed() != null) {
                b.seed(m.getSeed());
            }
            if (m.getRepetitionPenalty() != null) {
                b.repetitionPenalty(m.getRepetitionPenalty());
            }
            if (m.getMinP() != null) {
                b.minP(m.getMinP());
            }
        }
        return b.build();
    }

    /**
     * Spring AI's messages as the chat template's: an assistant turn with tool calls becomes a turn
     * of calls, each tool response a tool message ({@link Tools} writes both as text turns for a
     * template that does not render them).
     */
    static List<ai.medqa.chat.Message> messages(List<Message> messages) {
        List<ai.medqa.chat.Message> out = new ArrayList<>(messages.size());
        for (Message m : messages) {
            switch (m.getMessageType()) {
                case SYSTEM -> out.add(ai.medqa.chat.Message.system(text(m)));
                case USER -> {
                    if (m instanceof UserMessage u && !u.getMedia().isEmpty()) {
                        throw new IllegalArgumentException(
                                "user messages with media are not supported (MedQA reads text)");
                    }
                    out.add(ai.medqa.chat.Message.user(text(m)));
                }
                case ASSISTANT -> {
                    AssistantMessage a = (AssistantMessage) m;
                    if (a.hasToolCalls()) {
                        List<Tools.Call> calls = new ArrayList<>();
                        for (AssistantMessage.ToolCall c : a.getToolCalls()) {
                            String args = c.arguments() == null || c.arguments().isBlank() ? "{}" : c.arguments();
                            calls.add(new Tools.Call(
                                    c.id(), c.name(), json(args, "tool call " + c.name() + " arguments")));
                        }
                        boolean ids = calls.stream().allMatch(c -> c.id() != null && !c.id().isEmpty());
                        out.add(
                                ids
                                        ? new ai.medqa.chat.Message(
                                                ai.medqa.chat.Message.Role.ASSISTANT, text(m), calls, null)
                                        : ai.medqa.chat.Message.assistant(Tools.callsText(calls)));
                    } else {
                        out.add(ai.medqa.chat.Message.assistant(text(m)));
                    }
                }
                case TOOL -> {
                    for (ToolResponseMessage.ToolResponse r : ((ToolResponseMessage) m).getResponses()) {
                        // A response without the id of its call can only be written as text (named by its tool).
                        out.add(
                                r.id() == null || r.id().isEmpty()
                                        ? ai.medqa.chat.Message.user(Tools.resultsText(
                                                Collections.singletonList(r.name()), List.of(r.responseData())))
                                        : ai.medqa.chat.Message.toolResult(r.id(), r.responseData()));
                    }
                }
                default ->
                    throw new IllegalArgumentException("messages of type " + m.getMessageType() + " are not supported");
            }
        }
        return out;
    }

    private static String text(Message m) {
        return m.getText() == null ? "" : m.getText();
    }

    private ChatResponse piece(Call call, String text) {
        return new ChatResponse(
                List.of(new org.springframework.ai.chat.model.Generation(new AssistantMessage(text))),
                ChatResponseMetadata.builder().model(call.model()).build());
    }

    /** The answer as Spring AI's response: with tools, its tool calls (finish reason TOOL_CALLS) or its reply. */
    private ChatResponse response(Call call, BatchEngine.Request job, Generation g) {
        int prompt = job.promptTokens();
        int completion = g.tokens().length;
        requests.incrementAndGet();
        promptTokens.addAndGet(prompt);
        completionTokens.addAndGet(completion);
        boolean complete = g.stopReason() == StopReason.EOS
                || g.stopReason() == StopReason.STOP_STRING
                || g.stopReason() == StopReason.CONSTRAINT_COMPLETE;
        String finish = complete ? "STOP" : "LENGTH";
        AssistantMessage message = new AssistantMessage(g.text());
        if (call.tools() != null && complete) {
            Tools.Reply reply = call.tools().parse(g.tokens(), g.text());
            if (reply.isCall()) {
                List<AssistantMessage.ToolCall> calls = new ArrayList<>();
                for (Tools.Call c : reply.calls()) {
                    calls.add(new AssistantMessage.ToolCall(
                            c.id(), "function", c.name(), c.arguments().toString()));
                }
                message =
                        AssistantMessage.builder().content("").toolCalls(calls).build();
                finish = "TOOL_CALLS";
            } else {
                message = new AssistantMessage(reply.content());
            }
        }
        return new ChatResponse(
                List.of(new org.springframework.ai.chat.model.Generation(
                        message,
                        ChatGenerationMetadata.builder().finishReason(finish).build())),
                ChatResponseMetadata.builder()
                        .model(call.model())
                        .usage(new DefaultUsage(prompt, completion, prompt + completion))
                        .build());
    }

    @Override
    public void close() {
        engine.close();
    }

    /** Builds a {@link MedQAChatModel}. */
    public static final class Builder {
        private final MedQA medqa;
        private GenerationConfig defaults = MedQA.ASK_DEFAULTS;
        private String modelName = "medqa";
        private int maxBatch = 8;
        private int maxQueue = 1024;
        private ObservationRegistry observations = ObservationRegistry.NOOP;

        private Builder(MedQA medqa) {
            this.medqa = Objects.requireNonNull(medqa, "medqa");
        }

        /** Settings for what a call leaves unset (default: {@link MedQA#ASK_DEFAULTS}). */
        public Builder defaults(GenerationConfig defaults) {
            this.defaults = Objects.requireNonNull(defaults, "defaults");
            return this;
        }

        /** The base model's name (default "medqa"); options naming a loaded adapter use that adapter. */
        public Builder modelName(String modelName) {
            this.modelName = Objects.requireNonNull(modelName, "modelName");
            return this;
        }

        /** Rows decoded together (default 8) and calls that may wait for a row (default 1024). */
        public Builder maxBatch(int maxBatch, int maxQueue) {
            if (maxBatch < 1 || maxQueue < 0) {
                throw new IllegalArgumentException(
                        "maxBatch must be >= 1 and maxQueue >= 0, got " + maxBatch + ", " + maxQueue);
            }
            this.maxBatch = maxBatch;
            this.maxQueue = maxQueue;
            return this;
        }

        public Builder observationRegistry(ObservationRegistry observations) {
            this.observations = Objects.requireNonNull(observations, "observations");
            return this;
        }

        public MedQAChatModel build() {
            return new MedQAChatModel(this);
        }
    }
}
