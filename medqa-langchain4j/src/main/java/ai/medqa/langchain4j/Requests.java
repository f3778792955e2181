package ai.medqa.langchain4j;

import ai.medqa.MedQA;
import ai.medqa.chat.Message;
import ai.medqa.generate.BatchEngine;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.StopReason;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The mapping both models share: langchain4j messages to the model's chat template, request
 * parameters over the model's defaults to a {@link GenerationConfig}, and a {@link Generation} back
 * to a {@link ChatResponse}. Requests go through a {@link BatchEngine}, so concurrent calls decode
 * together and {@code modelName} can pick a LoRA adapter per request.
 */
final class Requests implements AutoCloseable {
    private final MedQA medqa;
    private final GenerationConfig defaults;
    private final String modelName;
    private final BatchEngine engine;

    Requests(MedQA medqa, GenerationConfig defaults, String modelName, int maxBatch) {
        this.medqa = Objects.requireNonNull(medqa, "medqa");
        this.defaults = Objects.requireNonNull(defaults, "defaults");
        this.modelName = Objects.requireNonNull(modelName, "modelName");
        this.engine = medqa.newEngine(maxBatch, 1024);
    }

    /** Queues the request; {@code onText} receives the answer piece by piece. */
    BatchEngine.Request submit(ChatRequest request, java.util.function.Consumer<String> onText) {
        ChatRequestParameters p = request.parameters();
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("MedQA models do not call tools");
        }
        if (p.frequencyPenalty() != null || p.presencePenalty() != null) {
            throw new UnsupportedFeatureException("frequency and presence penalties are not supported; "
                    + "use repetition_penalty in the model's default GenerationConfig");
        }
        if (p.responseFormat() != null && p.responseFormat().type() != dev.langchain4j.model.chat.request.ResponseFormatType.TEXT) {
            throw new UnsupportedFeatureException("only text responses are supported");
        }
        String adapter = null;
        if (p.modelName() != null && !p.modelName().equals(modelName)) {
            if (!medqa.adapters().contains(p.modelName())) {
                throw new IllegalArgumentException("modelName " + p.modelName() + " is neither this model (" + modelName
                        + ") nor one of its adapters " + medqa.adapters());
            }
            adapter = p.modelName();
        }
        int[] prompt = medqa.chatTemplate().encode(messages(request.messages()));
        return engine.submit(prompt, config(p), adapter, (id, text) -> {
            if (!text.isEmpty()) {
                onText.accept(text);
            }
        });
    }

    GenerationConfig config(ChatRequestParameters p) {
        GenerationConfig.Builder b = defaults.toBuilder();
        if (p.temperature() != null) {
            b.temperature(p.temperature()).doSample(p.temperature() > 0);
        }
        if (p.topP() != null) {
            b.topP(p.topP());
        }
        if (p.topK() != null) {
            b.topK(p.topK());
        }
        if (p.maxOutputTokens() != null) {
            b.maxNewTokens(p.maxOutputTokens());
        }
        if (p.stopSequences() != null && !p.stopSequences().isEmpty()) {
            b.stopStrings(p.stopSequences());
        }
        return b.build();
    }

    static List<Message> messages(List<ChatMessage> messages) {
        List<Message> out = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            if (m instanceof SystemMessage s) {
                out.add(Message.system(s.text()));
            } else if (m instanceof UserMessage u) {
                if (!u.hasSingleText()) {
                    throw new UnsupportedFeatureException("only text user messages are supported");
                }
                out.add(Message.user(u.singleText()));
            } else if (m instanceof AiMessage a) {
                if (a.hasToolExecutionRequests()) {
                    throw new UnsupportedFeatureException("MedQA models do not call tools");
                }
                out.add(Message.assistant(a.text() == null ? "" : a.text()));
            } else {
                throw new UnsupportedFeatureException("messages of type " + m.type() + " are not supported");
            }
        }
        return out;
    }

    ChatResponse response(BatchEngine.Request request, Generation g, String adapter) {
        int prompt = request.promptTokens();
        return ChatResponse.builder().aiMessage(AiMessage.from(g.text()))
                .modelName(adapter != null ? adapter : modelName)
                .tokenUsage(new TokenUsage(prompt, g.tokens().length, prompt + g.tokens().length))
                .finishReason(g.stopReason() == StopReason.EOS || g.stopReason() == StopReason.STOP_STRING
                        || g.stopReason() == StopReason.CONSTRAINT_COMPLETE
                        ? FinishReason.STOP : FinishReason.LENGTH)
                .build();
    }

    @Override
    public void close() {
        engine.close();
    }
}
