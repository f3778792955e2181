package ai.medqa.spring.boot;

import ai.medqa.MedQA;
import ai.medqa.springai.MedQAChatModel;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * {@code /actuator/health}'s {@code medqa}: UP once the model is loaded (the bean exists only then),
 * with the model, its device and precision, how its projections are held, the adapters, and the
 * rows the chat model is decoding now.
 */
public class MedQAHealthIndicator implements HealthIndicator {
    private final MedQA medqa;
    private final MedQAChatModel chatModel;
    private final String model;

    public MedQAHealthIndicator(MedQA medqa, MedQAChatModel chatModel, String model) {
        this.medqa = medqa;
        this.chatModel = chatModel;
        this.model = model;
    }

    @Override
    public Health health() {
        Map<String, Integer> formats = new TreeMap<>();
        medqa.model()
                .projections()
                .values()
                .forEach(l -> formats.merge(
                        l.getClass().getSimpleName().replace("Linear", "").toLowerCase(Locale.ROOT), 1, Integer::sum));
        MedQAChatModel.Stats stats = chatModel.stats();
        return Health.up()
                .withDetail("model", model)
                .withDetail("name", chatModel.modelName())
                .withDetail("device", medqa.model().device().toString())
                .withDetail("dtype", medqa.model().dtype().toString())
                .withDetail("projections", formats)
                .withDetail("adapters", medqa.adapters())
                .withDetail("runningRows", stats.runningRows())
                .withDetail("queuedRequests", stats.queuedRequests())
                .build();
    }
}
