package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.chat.Conversation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.metrics.judge.JudgeModel;

/**
 * A local MedQA model as the judge, through its chat template (the checkpoint's Jinja
 * {@code chat_template}, else Mistral-Instruct's format). The chat API encodes message text
 * literally: the answers being judged are untrusted, and a {@code </s>} or {@code [INST]} inside one
 * stays text rather than ending or forging a turn.
 */
final class LocalJudgeModel implements JudgeModel {
    private final MedQA medqa;
    private final GenerationConfig config;
    private final String name;

    LocalJudgeModel(MedQA medqa, String name, int maxNewTokens, double temperature) {
        this.medqa = medqa;
        this.name = name;
        GenerationConfig.Builder b = GenerationConfig.builder().maxNewTokens(maxNewTokens);
        this.config =
                temperature > 0 ? b.doSample(true).temperature(temperature).build() : b.build();
    }

    @Override
    public String complete(String systemPrompt, String userPrompt) {
        Conversation c =
                systemPrompt == null || systemPrompt.isEmpty() ? new Conversation() : new Conversation(systemPrompt);
        return medqa.chat(c.addUser(userPrompt), config).text();
    }

    @Override
    public String toString() {
        return "local model " + name;
    }
}
