package ai.medqa.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.common.MedQAException;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class GenerationConfigTest {
    @Test
    void defaultsAreHuggingFaces() {
        GenerationConfig c = GenerationConfig.greedy();
        assertThat(c.doSample()).isFalse();
        assertThat(c.isGreedy()).isTrue();
        assertThat(c.temperature()).isEqualTo(1.0);
        assertThat(c.topK()).isEqualTo(50);
        assertThat(c.topP()).isEqualTo(1.0);
        assertThat(c.minP()).isEmpty();
        assertThat(c.repetitionPenalty()).isEqualTo(1.0);
        assertThat(c.maxNewTokens()).isEqualTo(256);
        assertThat(c.eosTokenIds()).isEmpty();
        assertThat(c.stopStrings()).isEmpty();
        assertThat(c.seed()).isEmpty();
        assertThat(GenerationConfig.sampling().doSample()).isTrue();
    }

    @Test
    void toBuilderCopiesEverythingAndConfigsAreValues() {
        GenerationConfig c = GenerationConfig.builder()
                .doSample(true)
                .temperature(0.7)
                .topK(0)
                .topP(0.95)
                .minP(0.05)
                .repetitionPenalty(1.2)
                .maxNewTokens(150)
                .eosTokenIds(List.of(2))
                .stopStrings("\nQ:")
                .seed(42)
                .build();
        assertThat(c.toBuilder().build()).isEqualTo(c).hasSameHashCodeAs(c);
        assertThat(c.toBuilder().topP(0.8).build()).isNotEqualTo(c);
        assertThat(c.toString())
                .contains(
                        "temperature=0.7",
                        "top_p=0.95",
                        "min_p=0.05",
                        "repetition_penalty=1.2",
                        "max_new_tokens=150",
                        "seed=42");
        assertThat(c.toBuilder()
                        .clearMinP()
                        .clearSeed()
                        .clearEosTokenIds()
                        .build()
                        .minP())
                .isEmpty();
    }

    @Test
    void eosIdsComeFromTheModelUnlessSet() {
        assertThat(GenerationConfig.greedy().eosTokenIdsOr(Set.of(2))).containsExactly(2);
        GenerationConfig none =
                GenerationConfig.builder().eosTokenIds(List.of()).build();
        assertThat(none.eosTokenIdsOr(Set.of(2))).isEmpty(); // explicitly "never stop on a token"
    }

    @Test
    void outOfRangeValuesAreRejectedNamingFieldAndRange() {
        rejects(b -> b.temperature(-0.1), "GenerationConfig.temperature must be a finite number >= 0", "-0.1");
        rejects(b -> b.temperature(Double.NaN), "temperature", "NaN");
        rejects(b -> b.topK(-1), "GenerationConfig.topK must be an integer >= 0", "-1");
        rejects(b -> b.topP(0), "GenerationConfig.topP must be (0, 1]", "0.0");
        rejects(b -> b.topP(1.01), "topP", "1.01");
        rejects(b -> b.minP(-0.01), "GenerationConfig.minP must be [0, 1]", "-0.01");
        rejects(b -> b.minP(1.5), "minP", "1.5");
        rejects(b -> b.repetitionPenalty(0), "GenerationConfig.repetitionPenalty must be a finite number > 0", "0.0");
        rejects(b -> b.repetitionPenalty(-1.2), "repetitionPenalty", "-1.2");
        rejects(b -> b.maxNewTokens(0), "GenerationConfig.maxNewTokens must be an integer >= 1", "0");
        rejects(b -> b.eosTokenIds(List.of(-2)), "eosTokenIds", "-2");
        rejects(b -> b.stopStrings(""), "stopStrings", "non-empty");
    }

    @Test
    void boundaryValuesAreAccepted() {
        GenerationConfig.builder()
                .temperature(0)
                .topK(0)
                .topP(1)
                .minP(0)
                .repetitionPenalty(1e-3)
                .maxNewTokens(1)
                .build();
        GenerationConfig.builder().topP(Double.MIN_VALUE).minP(1).build();
    }

    private static void rejects(UnaryOperator<GenerationConfig.Builder> edit, String... messageParts) {
        assertThatThrownBy(() -> edit.apply(GenerationConfig.builder()).build())
                .isInstanceOf(GenerationConfigException.class)
                .isInstanceOf(MedQAException.class)
                .hasMessageContainingAll(messageParts);
    }

    @Test
    void samplingSettingsWithoutDoSampleAreShownAsUnused() {
        GenerationConfig c =
                GenerationConfig.builder().temperature(0.8).topP(0.9).build();
        assertThat(c.doSample()).isFalse();
        assertThat(c.toString())
                .contains("do_sample=false")
                .contains("temperature=0.8, top_p=0.9 (unused: do_sample=false)");
        assertThat(GenerationConfig.greedy().toString()).doesNotContain("unused");
        assertThat(GenerationConfig.sampling().toBuilder()
                        .temperature(0.8)
                        .build()
                        .toString())
                .doesNotContain("unused")
                .contains("temperature=0.8");
    }
}
