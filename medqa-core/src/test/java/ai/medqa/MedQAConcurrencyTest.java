package ai.medqa;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.generate.GenerationConfig;
import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MedQA's thread-safety contract: concurrent asks give exactly the sequential answers. */
class MedQAConcurrencyTest {

    @Test
    void concurrentAsksEqualSequentialOnes(@TempDir Path dir) throws Exception {
        RandomCheckpoint.write(dir, RandomCheckpoint.config(32, 64, 2, 4, 2, 32000, 1024, 0), DType.F32, 21);
        Files.copy(MedQAChatTest.resource("/tokenizer/mistral-7b-v0.1/tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.copy(
                MedQAChatTest.resource("/tokenizer/mistral-7b-instruct-v0.1/tokenizer_config.json"),
                dir.resolve("tokenizer_config.json"));
        List<String> questions = List.of(
                "Does aspirin reduce the risk of myocardial infarction?",
                "Is metformin first-line therapy for type 2 diabetes?",
                "Do statins lower LDL cholesterol?",
                "Is warfarin reversed by vitamin K?",
                "Does smoking cause lung cancer?",
                "Is insulin a hormone?");
        try (MedQA medqa = MedQA.builder().model(dir).build()) {
            List<String> sequential = new ArrayList<>();
            for (int i = 0; i < questions.size(); i++) {
                sequential.add(medqa.ask(questions.get(i), config(i)).text());
            }
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                for (int round = 0; round < 2; round++) {
                    List<Future<String>> answers = new ArrayList<>();
                    for (int i = 0; i < questions.size(); i++) {
                        int q = i;
                        answers.add(pool.submit(() -> {
                            if (q % 3 == 2) {
                                // The lazy stream shares the model with the other requests too.
                                try (var pieces = medqa.stream(questions.get(q), config(q))) {
                                    return pieces.collect(Collectors.joining());
                                }
                            }
                            return medqa.ask(questions.get(q), config(q)).text();
                        }));
                    }
                    for (int i = 0; i < questions.size(); i++) {
                        assertThat(answers.get(i).get())
                                .as("question %d, round %d", i, round)
                                .isEqualTo(sequential.get(i));
                    }
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(sequential.stream().distinct().count())
                    .as("different seeds and questions, different answers")
                    .isGreaterThan(1);
        }
    }

    private static GenerationConfig config(int i) {
        return MedQA.ASK_DEFAULTS.toBuilder().seed(100 + i).maxNewTokens(24).build();
    }
}
