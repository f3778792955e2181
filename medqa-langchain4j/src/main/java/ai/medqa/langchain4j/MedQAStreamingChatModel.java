package ai.medqa.langchain4j;

import ai.medqa.MedQA;
import ai.medqa.generate.BatchEngine;
import ai.medqa.generate.GenerationConfig;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import java.util.Set;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;

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

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        BatchEngine.Request job;
        try {
            job = requests.submit(request, handler::onPartialResponse);
        } catch (RuntimeException e) {
            handler.onError(e);
            return;
        }
        // Off the engine's thread: a handler that blocks (or waits for another answer) must not stall decoding.
        job.result().whenCompleteAsync((g, error) -> {
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
