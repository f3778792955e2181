package ai.medqa.langchain4j;

import ai.medqa.MedQA;
import ai.medqa.chat.ToolStream;
import ai.medqa.generate.GenerationConfig;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.CompleteToolCall;
import dev.langchain4j.model.chat.response.PartialToolCall;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A langchain4j {@link StreamingChatModel} backed by an in-process {@link MedQA}, mapped as
 * {@link MedQAChatModel} maps. Partial responses are called on MedQA's engine thread as the text
 * becomes final (keep that quick); the complete response (or the error) comes on another thread.
 */
public final class MedQAStreamingChatModel implements StreamingChatModel, AutoCloseable {
    private final Requests requests;

    private MedQAStreamingChatModel(Requests requests) {
        this.requests = requests;
    }

    public static MedQAStreamingChatModel of(MedQA medqa) {
        return of(medqa, MedQA.ASK_DEFAULTS, "medqa");
    }

    public static MedQAStreamingChatModel of(MedQA medqa, GenerationConfig defaults, String modelName) {
        return new MedQAStreamingChatModel(new Requests(medqa, defaults, modelName, 8));
    }

    /**
     * Text as it becomes final ({@code onPartialResponse}); with tools, a reply the same way, or each
     * call as {@code onPartialToolCall}s (its id and name, then its arguments piece by piece) and
     * {@code onCompleteToolCall} once the answer is complete.
     */
    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        Requests.Job job;
        List<String[]> calls = new ArrayList<>(); // id, name of each announced call
        try {
            job = requests.submit(request, new ToolStream.Listener() {
                @Override
                public void reply(String text) {
                    handler.onPartialResponse(text);
                }

                @Override
                public void call(int index, String id, String name) {
                    calls.add(new String[] {id, name}); // announced with its first piece of arguments (never empty)
                }

                @Override
                public void arguments(int index, String json) {
                    handler.onPartialToolCall(PartialToolCall.builder()
                            .index(index)
                            .id(calls.get(index)[0])
                            .name(calls.get(index)[1])
                            .partialArguments(json)
                            .build());
                }
            });
        } catch (RuntimeException e) {
            handler.onError(e);
            return;
        }
        // Off the engine's thread: a handler that blocks (or waits for another answer) must not stall decoding.
        job.request().result().whenCompleteAsync((g, error) -> {
            if (error != null) {
                handler.onError(error);
            } else {
                ChatResponse response;
                try {
                    response = requests.response(job, g, request.parameters());
                } catch (RuntimeException e) {
                    handler.onError(e);
                    return;
                }
                if (response.aiMessage().hasToolExecutionRequests()) {
                    List<ToolExecutionRequest> done = response.aiMessage().toolExecutionRequests();
                    for (int i = 0; i < done.size(); i++) {
                        handler.onCompleteToolCall(new CompleteToolCall(i, done.get(i)));
                    }
                }
                handler.onCompleteResponse(response);
            }
        });
    }

    /** JSON-schema response formats are enforced while decoding, so AiServices can return records. */
    @Override
    public Set<Capability> supportedCapabilities() {
        return Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA);
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    @Override
    public void close() {
        requests.close();
    }
}
