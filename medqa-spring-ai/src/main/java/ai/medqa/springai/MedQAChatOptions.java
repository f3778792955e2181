package ai.medqa.springai;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.model.tool.DefaultToolCallingChatOptions;
import org.springframework.ai.model.tool.StructuredOutputChatOptions;
import org.springframework.ai.model.tool.ToolCallingChatOptions;
import org.springframework.ai.tool.ToolCallback;

/**
 * Spring AI's chat options for {@link MedQAChatModel}: the portable ones (model = the base model's
 * name or a LoRA adapter's, temperature, top-p, top-k, max tokens, stop sequences), tools, the
 * output schema of native structured output, and MedQA's own sampling settings (seed, repetition
 * penalty, min-p). A setting left null keeps the model's default {@code GenerationConfig}. Frequency
 * and presence penalties are refused when the request is made (MedQA has a repetition penalty).
 */
public final class MedQAChatOptions implements ToolCallingChatOptions, StructuredOutputChatOptions {
    private final String model;
    private final Double frequencyPenalty;
    private final Integer maxTokens;
    private final Double presencePenalty;
    private final List<String> stopSequences;
    private final Double temperature;
    private final Integer topK;
    private final Double topP;
    private final List<ToolCallback> toolCallbacks;
    private final Map<String, Object> toolContext;
    private final String outputSchema;
    private final Long seed;
    private final Double repetitionPenalty;
    private final Double minP;

    private MedQAChatOptions(
            String model,
            Double frequencyPenalty,
            Integer maxTokens,
            Double presencePenalty,
            List<String> stopSequences,
            Double temperature,
            Integer topK,
            Double topP,
            List<ToolCallback> toolCallbacks,
            Map<String, Object> toolContext,
            String outputSchema,
            Long seed,
            Double repetitionPenalty,
            Double minP) {
        this.model = model;
        this.frequencyPenalty = frequencyPenalty;
        this.maxTokens = maxTokens;
        this.presencePenalty = presencePenalty;
        this.stopSequences = stopSequences == null ? null : List.copyOf(stopSequences);
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.toolCallbacks = toolCallbacks == null ? null : List.copyOf(toolCallbacks);
        this.toolContext = toolContext == null ? null : Map.copyOf(toolContext);
        this.outputSchema = outputSchema;
        this.seed = seed;
        this.repetitionPenalty = repetitionPenalty;
        this.minP = minP;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String getModel() {
        return model;
    }

    @Override
    public Double getFrequencyPenalty() {
        return frequencyPenalty;
    }

    @Override
    public Integer getMaxTokens() {
        return maxTokens;
    }

    @Override
    public Double getPresencePenalty() {
        return presencePenalty;
    }

    @Override
    public List<String> getStopSequences() {
        return stopSequences;
    }

    @Override
    public Double getTemperature() {
        return temperature;
    }

    @Override
    public Integer getTopK() {
        return topK;
    }

    @Override
    public Double getTopP() {
        return topP;
    }

    @Override
    public List<ToolCallback> getToolCallbacks() {
        return toolCallbacks;
    }

    @Override
    public Map<String, Object> getToolContext() {
        return toolContext;
    }

    /** The JSON Schema the answer must follow (native structured output: enforced while decoding), or null. */
    @Override
    public String getOutputSchema() {
        return outputSchema;
    }

    /** The sampling seed, or null for the default's. */
    public Long getSeed() {
        return seed;
    }

    public Double getRepetitionPenalty() {
        return repetitionPenalty;
    }

    public Double getMinP() {
        return minP;
    }

    @Override
    public Builder mutate() {
        Builder b = new Builder()
                .model(model)
                .frequencyPenalty(frequencyPenalty)
                .maxTokens(maxTokens)
                .presencePenalty(presencePenalty)
                .stopSequences(stopSequences)
                .temperature(temperature)
                .topK(topK)
                .topP(topP)
                .toolCallbacks(toolCallbacks)
                .toolContext(toolContext)
                .outputSchema(outputSchema);
        b.seed = seed;
        b.repetitionPenalty = repetitionPenalty;
        b.minP = minP;
        return b;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MedQAChatOptions that
                && Objects.equals(model, that.model)
                && Objects.equals(frequencyPenalty, that.frequencyPenalty)
                && Objects.equals(maxTokens, that.maxTokens)
                && Objects.equals(presencePenalty, that.presencePenalty)
                && Objects.equals(stopSequences, that.stopSequences)
                && Objects.equals(temperature, that.temperature)
                && Objects.equals(topK, that.topK)
                && Objects.equals(topP, that.topP)
                && Objects.equals(toolCallbacks, that.toolCallbacks)
                && Objects.equals(toolContext, that.toolContext)
                && Objects.equals(outputSchema, that.outputSchema)
                && Objects.equals(seed, that.seed)
                && Objects.equals(repetitionPenalty, that.repetitionPenalty)
                && Objects.equals(minP, that.minP);
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                model,
                frequencyPenalty,
                maxTokens,
                presencePenalty,
                stopSequences,
                temperature,
                topK,
                topP,
                toolCallbacks,
                toolContext,
                outputSchema,
                seed,
                repetitionPenalty,
                minP);
    }

    @Override
    public String toString() {
        return "MedQAChatOptions[model=" + model + ", temperature=" + temperature + ", topP=" + topP + ", topK=" + topK
                + ", maxTokens=" + maxTokens + ", stop=" + stopSequences + ", seed=" + seed + ", repetitionPenalty="
                + repetitionPenalty + ", minP=" + minP + ", tools=" + (toolCallbacks == null ? 0 : toolCallbacks.size())
                + ", outputSchema=" + (outputSchema != null) + "]";
    }

    /**
     * Builds {@link MedQAChatOptions}; as Spring AI's own option builders, it combines with any other
     * options builder ({@code combineWith}: the other's non-null settings win, tools are added).
     */
    public static final class Builder extends DefaultToolCallingChatOptions.Builder<Builder>
            implements StructuredOutputChatOptions.Builder<Builder> {
        private String outputSchema;
        private Long seed;
        private Double repetitionPenalty;
        private Double minP;

        @Override
        public Builder outputSchema(String outputSchema) {
            this.outputSchema = outputSchema;
            return this;
        }

        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        public Builder repetitionPenalty(Double repetitionPenalty) {
            this.repetitionPenalty = repetitionPenalty;
            return this;
        }

        public Builder minP(Double minP) {
            this.minP = minP;
            return this;
        }

        @Override
        public Builder combineWith(ChatOptions.Builder<?> other) {
            super.combineWith(other);
            if (other instanceof Builder that) {
                outputSchema = that.outputSchema != null ? that.outputSchema : outputSchema;
                seed = that.seed != null ? that.seed : seed;
                repetitionPenalty = that.repetitionPenalty != null ? that.repetitionPenalty : repetitionPenalty;
                minP = that.minP != null ? that.minP : minP;
            } else if (other.build() instanceof StructuredOutputChatOptions s && s.getOutputSchema() != null) {
                outputSchema = s.getOutputSchema();
            }
            return this;
        }

        @Override
        public MedQAChatOptions build() {
            return new MedQAChatOptions(
                    model,
                    frequencyPenalty,
                    maxTokens,
                    presencePenalty,
                    stopSequences,
                    temperature,
                    topK,
                    topP,
                    toolCallbacks,
                    toolContext,
                    outputSchema,
                    seed,
                    repetitionPenalty,
                    minP);
        }
    }
}
