package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.metrics.judge.JudgeModel;

/**
 * A local MedQA model as the judge, prompted in the Mistral-Instruct format
 * {@code <s>[INST] {system}\n\n{user} [/INST]}.
 *
 * <p>Built by hand until MedQA's chat API lands; then {@link #complete} becomes one call to it. The
 * whole prompt is encoded literally (BOS added as an id): the answers being judged are untrusted text,
 * and a {@code </s>} or {@code [INST]} inside one must stay text rather than end or forge a turn. For
 * Mistral v0.1/v0.2 tokenizers, where {@code [INST]} is plain text, this gives the template's ids.
 */
final class LocalJudgeModel implements JudgeModel {
    private final MedQA medqa;
    private final GenerationConfig config;
    private final String name;

    LocalJudgeModel(MedQA medqa, String name, int maxNewTokens, double temperature) {
        this.medqa = medqa;
        this.name = name;
        GenerationConfig.Builder b = GenerationConfig.builder().maxNewTokens(maxNewTokens);
        this.config = temperature > 0 ? b.doSample(true).temperature(temperature).build() : b.build();
    }

    static String prompt(String systemPrompt, String userPrompt) {
        String system = systemPrompt == null || systemPrompt.isEmpty() ? "" : systemPrompt + "\n\n";
        return "[INST] " + system + userPrompt + " [/INST]";
    }

    @Override
    public String complete(String systemPrompt, String userPrompt) {
        int[] ids = medqa.tokenizer().encodeLiteral(prompt(systemPrompt, userPrompt), true);
        return medqa.generate(ids, config).text();
    }

    @Override
    public String toString() {
        return "local model " + name;
    }
}
