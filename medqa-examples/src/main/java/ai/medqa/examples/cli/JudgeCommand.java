package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.metrics.judge.JudgeModel;
import ai.medqa.metrics.judge.JudgeVerdict;
import ai.medqa.metrics.judge.JudgedLines;
import ai.medqa.metrics.judge.LlmJudge;
import ai.medqa.metrics.judge.OpenAiChatModel;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.MutuallyExclusiveArgsException;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code medqa judge --in answers.jsonl --out judged.jsonl (--model DIR | --endpoint URL --judge-model NAME)}:
 * rates each answer 1-4 with an LLM judge on the seed's rubric.
 *
 * <p>Each input line needs {@code question} and {@code answer}; {@code reference} (an expert answer
 * shown to the judge) and {@code human_rating} are optional; other fields are kept. Each output line
 * gains {@code judge_rating} (a number, or null when the reply had no rating within 1-4),
 * {@code judge_feedback} and {@code judge_status} ({@code ok}, {@code missing_rating},
 * {@code out_of_range}). The whole input is checked before the first call to the judge, and the output
 * is written only when every line has been judged, so a failed run leaves no partial file
 * ({@link JudgedLines}).
 */
@Command(
        name = "judge",
        mixinStandardHelpOptions = true,
        description = "Rate answers 1-4 with an LLM judge (local model or OpenAI-compatible endpoint).")
public final class JudgeCommand implements Callable<Integer> {
    @Option(names = "--in", required = true, description = "JSON Lines input with question and answer")
    Path in;

    @Option(
            names = "--out",
            required = true,
            description = "JSON Lines output: input fields plus judge_rating, judge_feedback, judge_status")
    Path out;

    /** The local judge: --model and how to load it, as every command that loads a model reads them. */
    @Mixin
    ModelOptions model;

    @ArgGroup(exclusive = false)
    Remote remote;

    static final class Remote {
        @Option(
                names = "--endpoint",
                required = true,
                description = "OpenAI-compatible base URL, e.g. https://api.openai.com/v1 or http://localhost:8000/v1")
        URI endpoint;

        @Option(names = "--judge-model", required = true, description = "The model name the endpoint serves")
        String judgeModel;
    }

    @Option(
            names = "--api-key-env",
            defaultValue = "OPENAI_API_KEY",
            description =
                    "Environment variable holding the endpoint's API key (default ${DEFAULT-VALUE}); never logged")
    String apiKeyEnv;

    @Option(
            names = "--temperature",
            defaultValue = "0",
            description = "Judge sampling temperature (default ${DEFAULT-VALUE}: greedy)")
    double temperature;

    @Option(
            names = "--max-tokens",
            defaultValue = "512",
            description = "Longest judge reply in tokens (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(
            names = "--timeout",
            defaultValue = "120",
            description = "Seconds one endpoint request may take (default ${DEFAULT-VALUE})")
    long timeoutSeconds;

    @Option(
            names = "--max-attempts",
            defaultValue = "5",
            description =
                    "Endpoint attempts per answer, retrying 429, 5xx and timeouts with back-off (default ${DEFAULT-VALUE})")
    int maxAttempts;

    @Spec
    CommandSpec spec;

    PrintStream err = System.err;
    /** Where the API key is looked up; tests replace it. */
    Function<String, String> environment = System::getenv;
    /** The endpoint's first back-off; tests shorten it. */
    Duration initialBackoff = Duration.ofSeconds(1);

    @Override
    public Integer call() {
        requireOneJudge();
        JudgedLines lines = JudgedLines.parse(in.toString(), TextFiles.lines(in));
        List<JudgeVerdict> verdicts;
        if (model.model != null) {
            Path dir = model.model;
            try (MedQA medqa = model.builder().build()) {
                verdicts = new LlmJudge(new LocalJudgeModel(medqa, dir.toString(), maxTokens, temperature))
                        .judgeAll(lines.items());
            }
        } else {
            verdicts = new LlmJudge(remote()).judgeAll(lines.items());
        }
        lines.write(out, verdicts);
        err.printf(Locale.ROOT, "judged %d answers: %s -> %s%n", lines.size(), in, out);
        err.print(lines.summary(verdicts));
        return 0;
    }

    /**
     * --model or --endpoint, not both, not neither: the usage errors (and their text) of the exclusive
     * group these options formed before --model came from {@link ModelOptions}, which picocli cannot
     * put in a group.
     */
    private void requireOneJudge() {
        String choice = "(--model=<model> | [--endpoint=<endpoint> --judge-model=<judgeModel>])";
        if (model.model == null && remote == null) {
            throw new ParameterException(
                    spec.commandLine(), "Error: Missing required argument (specify one of these): " + choice);
        }
        if (model.model != null && remote != null) {
            throw new MutuallyExclusiveArgsException(
                    spec.commandLine(),
                    "Error: --model=<model> and [--endpoint=<endpoint> --judge-model=<judgeModel>] are mutually "
                            + "exclusive (specify only one)");
        }
    }

    private JudgeModel remote() {
        return OpenAiChatModel.builder()
                .baseUrl(remote.endpoint)
                .model(remote.judgeModel)
                .apiKeyEnv(apiKeyEnv)
                .environment(environment)
                .temperature(temperature)
                .maxTokens(maxTokens)
                .requestTimeout(Duration.ofSeconds(timeoutSeconds))
                .maxAttempts(maxAttempts)
                .backoff(initialBackoff, Duration.ofSeconds(60))
                .build();
    }
}
