package example;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** The application with the installed starter: the model from properties, answers and a record out. */
@SpringBootTest(properties = {"medqa.quantize=int4", "medqa.temperature=0", "medqa.max-new-tokens=64"})
class TriageApplicationTest {

    @DynamicPropertySource
    static void model(DynamicPropertyRegistry properties) throws Exception {
        // No real weights can ship: a small random Mistral with Mistral's real tokenizer and template.
        Path model = Files.createTempDirectory("triage-model");
        RandomCheckpoint.write(model, RandomCheckpoint.config(64, 128, 2, 4, 2, 32000, 512, 0), DType.F32, 7);
        Path tokenizers = Path.of(System.getProperty("tokenizer.dir"));
        Files.copy(tokenizers.resolve("mistral-7b-v0.1/tokenizer.json"), model.resolve("tokenizer.json"));
        Files.copy(tokenizers.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"), model.resolve("tokenizer_config.json"));
        properties.add("medqa.model", model::toString);
    }

    @Autowired
    TriageApplication.TriageService service;

    @Test
    void answersAndTriages() {
        String answer = service.answer("Chest pain since this morning.");
        assertThat(answer).isNotEmpty().isEqualTo(service.answer("Chest pain since this morning."));
        TriageApplication.Triage triage = service.triage("Chest pain since this morning.");
        assertThat(triage).isNotNull();
        assertThat(triage.urgency()).isNotNull();
    }
}
