package ai.medqa.spring.boot;

import ai.medqa.MedQA;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.model.OllamaModels;
import ai.medqa.quant.Quantization;
import ai.medqa.springai.MedQAChatModel;
import io.micrometer.observation.ObservationRegistry;
import java.nio.file.Path;
import java.util.Locale;
import org.springframework.ai.chat.client.AdvisorParams;
import org.springframework.ai.chat.client.ChatClientCustomizer;
import org.springframework.ai.model.chat.client.autoconfigure.ChatClientAutoConfiguration;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * From {@code medqa.*} properties: one shared {@link MedQA} (closed with the context), its Spring AI
 * {@link MedQAChatModel} (so Spring AI's {@code ChatClient.Builder} is built on it), native structured
 * output for {@code ChatClient}'s {@code entity(...)}, and with Actuator/Micrometer present a health
 * indicator and meters. Nothing loads when {@code medqa.model} is absent.
 */
@AutoConfiguration(before = ChatClientAutoConfiguration.class)
@ConditionalOnProperty(prefix = "medqa", name = "model")
@EnableConfigurationProperties(MedQAProperties.class)
public class MedQAAutoConfiguration {

    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    public MedQA medqa(MedQAProperties p) {
        MedQA.Builder b = MedQA.builder().model(modelPath(p.getModel()));
        try {
            b.quantize(Quantization.parse(p.getQuantize()))
                    .precision(MedQA.Precision.valueOf(p.getPrecision().trim().toUpperCase(Locale.ROOT)))
                    .device(p.getDevice())
                    .groupSize(p.getGroupSize())
                    .dequantize(p.isDequantize());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "medqa.quantize / medqa.precision / medqa.device / medqa.group-size: " + e.getMessage()
                            + " (precision: F32, F16 or BF16)",
                    e);
        }
        if (p.getThreads() > 0) {
            b.threads(p.getThreads());
        }
        p.getLora().forEach(b::lora);
        return b.build();
    }

    static Path modelPath(String model) {
        return OllamaModels.isOllama(model) ? OllamaModels.resolve(model) : Path.of(model);
    }

    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    public MedQAChatModel medqaChatModel(
            MedQA medqa, MedQAProperties p, ObjectProvider<ObservationRegistry> observations) {
        GenerationConfig.Builder defaults =
                MedQA.ASK_DEFAULTS.toBuilder().maxNewTokens(p.getMaxNewTokens()).topP(p.getTopP());
        defaults.temperature(p.getTemperature() > 0 ? p.getTemperature() : 1.0).doSample(p.getTemperature() > 0);
        if (p.getSeed() != null) {
            defaults.seed(p.getSeed());
        }
        return MedQAChatModel.builder(medqa)
                .defaults(defaults.build())
                .modelName(p.getModelName())
                .maxBatch(p.getMaxBatch(), p.getMaxQueue())
                .observationRegistry(observations.getIfUnique(() -> ObservationRegistry.NOOP))
                .build();
    }

    /** entity(...) through constrained decoding: the schema enforced while decoding, so the answer parses. */
    @Bean
    @ConditionalOnProperty(
            prefix = "medqa",
            name = "native-structured-output",
            havingValue = "true",
            matchIfMissing = true)
    public ChatClientCustomizer medqaNativeStructuredOutput() {
        return builder -> builder.defaultAdvisors(AdvisorParams.ENABLE_NATIVE_STRUCTURED_OUTPUT);
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "org.springframework.boot.health.contributor.HealthIndicator")
    static class Health {
        // No @ConditionalOnBean: nested configurations are read before the outer bean methods, and
        // medqaChatModel above always exists where this configuration applies.
        @Bean
        @ConditionalOnMissingBean(name = "medqaHealthIndicator")
        MedQAHealthIndicator medqaHealthIndicator(MedQA medqa, MedQAChatModel chatModel, MedQAProperties p) {
            return new MedQAHealthIndicator(medqa, chatModel, p.getModel());
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "io.micrometer.core.instrument.binder.MeterBinder")
    static class Meters {
        @Bean
        MedQAMeters medqaMeters(MedQAChatModel chatModel) {
            return new MedQAMeters(chatModel);
        }
    }
}
