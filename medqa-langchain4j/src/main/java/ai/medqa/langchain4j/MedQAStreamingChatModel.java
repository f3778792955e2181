package ai.medqa.langchain4j;

import ai.medqa.MedQA;
import ai.medqa.generate.BatchEngine;
import ai.medqa.generate.GenerationConfig;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;

/**
 * A langchain4j {@link StreamingChatModel} backed by an in-process {@link MedQA}, mapped as
 * {@link MedQAChatModel} maps. The handler is called on MedQA's engine thread: partial responses
 * as the text becomes final, then the complete response (or the error). Keep the handler quick.
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
        job.result().whenComplete((g, error) -> {
            if (error != null) {
                handler.onError(error);
            } else {
                handler.onCompleteResponse(requests.response(job, g, request.parameters().modelName()));
            }
        });
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
