package ai.medqa.spring.boot;

import org.springframework.beans.factory.NoSuchBeanDefinitionException;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.core.Ordered;

/**
 * When an application needs MedQA's beans (the {@code MedQA} or its chat model) and none was made,
 * the startup failure says why: {@code medqa.model} is not set (the starter loads nothing without
 * it), and what to set it to.
 */
public class MedQAFailureAnalyzer extends AbstractFailureAnalyzer<NoSuchBeanDefinitionException> implements Ordered {

    @Override
    protected FailureAnalysis analyze(Throwable root, NoSuchBeanDefinitionException cause) {
        Class<?> type = cause.getBeanType();
        if (type == null || !type.getName().startsWith("ai.medqa.")) {
            return null;
        }
        return new FailureAnalysis(
                "The application needs a " + type.getSimpleName() + " bean, but MedQA's starter "
                        + "made none: the property medqa.model is not set, and nothing loads without it.",
                "Set medqa.model to a Hugging Face model folder, a GGUF file or ollama:NAME[:TAG] "
                        + "(e.g. medqa.model=/models/mistral-7b-instruct), and medqa.quantize, medqa.precision, "
                        + "medqa.device or medqa.lora.NAME as needed.",
                cause);
    }

    /** Before Boot's general analysis of a missing bean. */
    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE;
    }
}
