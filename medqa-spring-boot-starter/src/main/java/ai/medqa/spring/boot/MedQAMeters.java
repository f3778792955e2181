package ai.medqa.spring.boot;

import ai.medqa.springai.MedQAChatModel;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * The chat model's counts as Micrometer meters, named so that Prometheus shows them as
 * {@code medqa serve}'s {@code /metrics} does: {@code medqa_requests_total},
 * {@code medqa_prompt_tokens_total}, {@code medqa_completion_tokens_total}, {@code medqa_running_rows},
 * {@code medqa_queue_length}.
 */
public class MedQAMeters implements MeterBinder {
    private final MedQAChatModel chatModel;

    public MedQAMeters(MedQAChatModel chatModel) {
        this.chatModel = chatModel;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        FunctionCounter.builder("medqa.requests", chatModel, m -> m.stats().requests())
                .description("Completed chat calls.")
                .register(registry);
        FunctionCounter.builder("medqa.prompt.tokens", chatModel, m -> m.stats().promptTokens())
                .description("Prompt tokens of completed calls.")
                .baseUnit("tokens")
                .register(registry);
        FunctionCounter.builder(
                        "medqa.completion.tokens", chatModel, m -> m.stats().completionTokens())
                .description("Tokens generated for completed calls.")
                .baseUnit("tokens")
                .register(registry);
        Gauge.builder("medqa.running.rows", chatModel, m -> m.stats().runningRows())
                .description("Rows being decoded.")
                .register(registry);
        Gauge.builder("medqa.queue.length", chatModel, m -> m.stats().queuedRequests())
                .description("Calls waiting for a row.")
                .register(registry);
    }
}
