package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.GenerationConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Option;

/** Sampling settings with Hugging Face's names; unset ones keep {@link MedQA#ASK_DEFAULTS}. */
final class SamplingOptions {
    @picocli.CommandLine.Spec(picocli.CommandLine.Spec.Target.MIXEE)
    picocli.CommandLine.Model.CommandSpec mixee;

    @Option(
            names = "--system",
            description = "System prompt (default: the medical-assistant role prompt; \"\" for none).")
    String system;

    @Option(names = "--temperature", description = "Sampling temperature; 0 = greedy (default 0.7).")
    Double temperature;

    @Option(names = "--top-p", description = "Nucleus sampling mass in (0, 1] (default 0.95).")
    Double topP;

    @Option(names = "--top-k", description = "Keep the k most likely tokens; 0 = off (default 50).")
    Integer topK;

    @Option(names = "--min-p", description = "Drop tokens below min_p x the top probability.")
    Double minP;

    @Option(names = "--repetition-penalty", description = "Penalty > 1 discourages repeats (default 1.0).")
    Double repetitionPenalty;

    @Option(names = "--max-new-tokens", description = "New tokens at most (default 150; generate: 32).")
    Integer maxNewTokens;

    @Option(names = "--seed", description = "Seed for a repeatable run.")
    Long seed;

    @Option(
            names = "--stop",
            paramLabel = "TEXT",
            description = "Stop when the text generated contains TEXT (repeatable).")
    List<String> stop = new ArrayList<>();

    /** The settings of ask and chat: {@link MedQA#ASK_DEFAULTS} with the flags given. */
    GenerationConfig config() {
        return config(MedQA.ASK_DEFAULTS);
    }

    /** {@code base} with the flags given; a --temperature above 0 turns sampling on, 0 means greedy. */
    GenerationConfig config(GenerationConfig base) {
        GenerationConfig.Builder b = base.toBuilder();
        if (temperature != null) {
            b.temperature(temperature);
            if (temperature > 0) {
                b.doSample(true);
            }
        }
        if (topP != null) {
            b.topP(topP);
        }
        if (topK != null) {
            b.topK(topK);
        }
        if (minP != null) {
            b.minP(minP);
        }
        if (repetitionPenalty != null) {
            b.repetitionPenalty(repetitionPenalty);
        }
        if (maxNewTokens != null) {
            b.maxNewTokens(maxNewTokens);
        }
        if (seed != null) {
            b.seed(seed);
        }
        if (!stop.isEmpty()) {
            b.stopStrings(stop);
        }
        try {
            return b.build();
        } catch (GenerationConfigException e) {
            if (e.field() == null) {
                throw e;
            }
            // maxNewTokens -> --max-new-tokens: the flag the user typed, not the builder's name.
            String flag = "--" + e.field().replaceAll("([A-Z])", "-$1").toLowerCase(Locale.ROOT);
            throw new picocli.CommandLine.ParameterException(
                    mixee.commandLine(), flag + " " + e.value() + ": must be " + e.allowed());
        }
    }

    MedQA.Builder apply(MedQA.Builder builder) {
        if (system != null) {
            builder.systemPrompt(system.isEmpty() ? null : system);
        }
        return builder.generationConfig(config());
    }
}
