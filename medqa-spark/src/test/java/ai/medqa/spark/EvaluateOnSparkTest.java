package ai.medqa.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.eval.Evaluation;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The entry point's options: medqa eval's rows, and usage errors before Spark starts. */
class EvaluateOnSparkTest {
    @Test
    void optionsMakeMedqaEvalsRows() {
        EvaluateOnSpark.Options o = EvaluateOnSpark.Options.parse(new String[] {
            "--model",
            "m",
            "--out",
            "o",
            "--contexts",
            "both",
            "--lora",
            "pubmedqa=/adapters/a",
            "--partitions",
            "12",
            "--quantize",
            "int4"
        });
        assertThat(o.configs())
                .extracting(Evaluation.Config::name)
                .containsExactly(
                        "harness", "harness+no-contexts", "finetuned-pubmedqa", "finetuned-pubmedqa+no-contexts");
        assertThat(o.modelSpec().loras()).containsEntry("pubmedqa", "/adapters/a");
        assertThat(o.partitions).isEqualTo(12);
        EvaluateOnSpark.Options g =
                EvaluateOnSpark.Options.parse(new String[] {"--model", "m", "--out", "o", "--mode", "generate"});
        assertThat(g.configs())
                .extracting(Evaluation.Config::name)
                .containsExactly("zero-shot", "system-prompt", "temperature-0.7");
        assertThat(EvaluateOnSpark.Options.parse(new String[] {"--help"})).isNull();
    }

    @Test
    void usageErrorsNameTheOption() {
        assertThatThrownBy(() -> EvaluateOnSpark.Options.parse(new String[] {"--model", "m"}))
                .hasMessageContaining("--out");
        assertThatThrownBy(() ->
                        EvaluateOnSpark.Options.parse(new String[] {"--model", "m", "--out", "o", "--partitions", "0"}))
                .hasMessageContaining("--partitions 0");
        assertThatThrownBy(
                        () -> EvaluateOnSpark.Options.parse(new String[] {"--model", "m", "--out", "o", "--mode", "x"}))
                .hasMessageContaining("--mode x");
        assertThatThrownBy(() -> EvaluateOnSpark.Options.parse(new String[] {"--model", "m", "--out", "o", "--grid"})
                        .configs())
                .hasMessageContaining("--grid");
        assertThatThrownBy(() -> EvaluateOnSpark.Options.parse(new String[] {"--frobnicate", "1"}))
                .hasMessageContaining("unknown option --frobnicate");
        assertThat(List.of(EvaluateOnSpark.USAGE.split("\n"))).anyMatch(l -> l.contains("--parts URI"));
    }
}
