package ai.medqa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.common.MedQAException;
import ai.medqa.generate.Constraint;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Typed answers on a random-weight model (which writes noise unless constrained): every answer, greedy
 * or sampled, reads into the record; an answer that cannot finish in its budget fails saying so.
 */
class MedQATypedAnswerTest {
    @TempDir
    static Path dir;

    static MedQA medqa;

    enum Answer {
        @JsonProperty("yes")
        YES,
        @JsonProperty("no")
        NO,
        @JsonProperty("maybe")
        MAYBE
    }

    record Verdict(Answer answer, String explanation, List<String> evidence) {}

    record Measures(Optional<Integer> count, int days, double ratio, boolean significant) {}

    @BeforeAll
    static void load() throws Exception {
        RandomCheckpoint.write(dir, RandomCheckpoint.config(32, 64, 2, 4, 2, 32000, 2048, 0), DType.F32, 23);
        Files.copy(MedQAChatTest.resource("/tokenizer/mistral-7b-v0.1/tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.copy(
                MedQAChatTest.resource("/tokenizer/mistral-7b-instruct-v0.1/tokenizer_config.json"),
                dir.resolve("tokenizer_config.json"));
        medqa = MedQA.builder().model(dir).build();
    }

    @AfterAll
    static void close() {
        medqa.close();
    }

    @Test
    void everyAnswerReadsIntoTheRecordGreedyAndSampled() {
        String question = "Does aspirin reduce the risk of myocardial infarction?";
        Verdict greedy = medqa.ask(
                question,
                Verdict.class,
                GenerationConfig.greedy().toBuilder().maxNewTokens(120).build());
        assertThat(greedy.answer()).isNotNull();
        assertThat(greedy.explanation()).isNotNull();
        assertThat(greedy.evidence()).isNotNull().doesNotContainNull();
        Set<Verdict> seen = new HashSet<>();
        seen.add(greedy);
        for (int seed = 0; seed < 6; seed++) {
            GenerationConfig sampled = MedQA.ASK_DEFAULTS.toBuilder()
                    .temperature(1.2)
                    .maxNewTokens(60 + 20 * seed)
                    .seed(seed)
                    .build();
            Verdict v = medqa.ask(question, Verdict.class, sampled);
            assertThat(v.answer()).as("seed %d", seed).isIn((Object[]) Answer.values());
            assertThat(v.explanation()).isNotNull();
            assertThat(v.evidence()).isNotNull().doesNotContainNull();
            seen.add(v);
        }
        assertThat(seen).as("sampled answers differ").hasSizeGreaterThan(3);
        System.out.println("[figure] typed answer, greedy: " + greedy);
        // Optional, bounded int, double and boolean components read too (Optional through Jdk8Module).
        for (int seed = 0; seed < 4; seed++) {
            Measures m = medqa.ask(
                    "How many patients?",
                    Measures.class,
                    MedQA.ASK_DEFAULTS.toBuilder()
                            .temperature(1.5)
                            .maxNewTokens(80)
                            .seed(seed)
                            .build());
            assertThat(m.count()).isNotNull();
            assertThat(Double.isFinite(m.ratio())).isTrue();
        }
    }

    @Test
    void anAnswerCutByTheBudgetFailsNamingMaxNewTokens() {
        // {"answer":"yes","explanation":"","evidence":[]} needs more than 8 tokens.
        assertThatThrownBy(() -> medqa.ask(
                        "Is it?",
                        Verdict.class,
                        GenerationConfig.greedy().toBuilder().maxNewTokens(8).build()))
                .isInstanceOf(MedQAException.class)
                .hasMessageContaining("the Verdict answer did not complete within max_new_tokens=8")
                .hasMessageContaining("raise max_new_tokens");
        assertThatThrownBy(() -> medqa.ask(
                        "Is it?",
                        Verdict.class,
                        GenerationConfig.greedy().toBuilder()
                                .constraint(Constraint.choice("yes", "no"))
                                .build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a typed answer brings its own");
        assertThatThrownBy(() -> medqa.ask("Is it?", Object.class))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a typed answer is a Java record");
    }
}
