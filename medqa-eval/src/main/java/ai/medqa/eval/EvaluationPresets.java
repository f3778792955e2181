package ai.medqa.eval;

import ai.medqa.MedQA;
import ai.medqa.eval.Evaluation.Config;
import ai.medqa.generate.GenerationConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The configurations of the standard runs: likelihood mode's rows, the notebook's generate rows and
 * its sampling grid over any rows ({@link Evaluation#likelihoodPreset}, {@link Evaluation#notebookPreset}
 * and {@link Evaluation#withGrid} describe them).
 */
final class EvaluationPresets {
    private EvaluationPresets() {}

    static List<Config> likelihood(List<String> adapters, String contexts) {
        if (!List.of("with", "without", "both").contains(contexts)) {
            throw new IllegalArgumentException("contexts " + contexts + ": expected with, without or both");
        }
        List<String> models = new ArrayList<>();
        models.add(null);
        models.addAll(adapters);
        List<Config> configs = new ArrayList<>();
        for (String adapter : models) {
            String name = adapter == null ? "harness" : "finetuned-" + adapter;
            if (!contexts.equals("without")) {
                configs.add(new Config(name, adapter, true));
            }
            if (!contexts.equals("with")) {
                configs.add(new Config(name + "+no-contexts", adapter, false));
            }
        }
        return configs;
    }

    static List<Config> notebook(List<String> adapters, String contexts, int maxNewTokens, long seed) {
        GenerationConfig t10 = MedQA.ASK_DEFAULTS.toBuilder()
                .temperature(1.0)
                .maxNewTokens(maxNewTokens)
                .seed(seed)
                .build();
        GenerationConfig t07 = t10.toBuilder().temperature(0.7).build();
        List<Config> base = new ArrayList<>();
        base.add(new Config("zero-shot", null, false, null, t10));
        base.add(new Config("system-prompt", null, false, MedQA.MEDICAL_ASSISTANT_PROMPT, t10));
        base.add(new Config("temperature-0.7", null, false, MedQA.MEDICAL_ASSISTANT_PROMPT, t07));
        for (String a : adapters) {
            base.add(new Config("finetuned-" + a, a, false, MedQA.MEDICAL_ASSISTANT_PROMPT, t07));
        }
        List<Config> out = new ArrayList<>();
        for (Config c : base) {
            if (!contexts.equals("with")) {
                out.add(c);
            }
            if (!contexts.equals("without")) {
                out.add(new Config(
                        c.name() + "+contexts", c.adapter(), true, c.systemPrompt(), c.sampling(), c.template()));
            }
        }
        return out;
    }

    static List<Config> grid(List<Config> configs) {
        List<Config> out = new ArrayList<>();
        for (Config c : configs) {
            for (GenerationConfig g : ParameterGrid.product(
                    c.sampling(), new double[] {0.3, 0.7}, new double[] {0.8, 0.95}, new double[] {1.0, 1.2})) {
                String name = String.format(
                        Locale.ROOT, "%s@t%s-p%s-r%s", c.name(), g.temperature(), g.topP(), g.repetitionPenalty());
                out.add(new Config(name, c.adapter(), c.contexts(), c.systemPrompt(), g, c.template()));
            }
        }
        return out;
    }
}
