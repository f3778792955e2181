package ai.medqa.langchain4j;

import ai.medqa.MedQA;
import ai.medqa.generate.GenerationConfig;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import java.util.Set;

/**
 * A langchain4j {@link ChatModel} backed by an in-process {@link MedQA}: system, user and AI
 * messages go through the model's chat template; temperature, top-p, top-k, max output tokens and
 * stop sequences override the defaults (MedQA's {@link MedQA#ASK_DEFAULTS} unless given); tools
 * ({@code ToolSpecification}s, tool choice auto or required) and JSON response formats (any object,
 * or a schema) are enforced while decoding ({@link ai.medqa.chat.Tools}), so {@code AiServices} with
 * {@code @Tool} methods and record return types work; the response carries token usage and the finish reason. {@code modelName} may name a LoRA adapter.
 * Thread-safe; concurrent calls are decoded together. Close it before the {@link MedQA}.
 *
 * <pre>{@code
 * ChatModel model = MedQAChatModel.of(medqa);
 * String answer = model.chat("Does metformin cause lactic acidosis?");
 * }</pre>
 */
public final class MedQAChatModel implements ChatModel, AutoCloseable {
    private final Requests requests;

    private MedQAChatModel(Requests requests) {
        this.requests = requests;
    }

    /** With MedQA's ask defaults, named "medqa", batching up to 8 concurrent calls. */
    public static MedQAChatModel of(MedQA medqa) {
        return of(medqa, MedQA.ASK_DEFAULTS, "medqa");
    }

    /**
     * @param defaults settings for what a request leaves unset (seed, repetition penalty, ...)
     * @param modelName the base model's name; requests naming an adapter use that adapter
     */
    public static MedQAChatModel of(MedQA medqa, GenerationConfig defaults, String modelName) {
        return new MedQAChatModel(new Requests(medqa, defaults, modelName, 8));
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        Requests.Job job = requests.submit(request, text -> {});
        return requests.response(job, job.request().join(), request.parameters());
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
