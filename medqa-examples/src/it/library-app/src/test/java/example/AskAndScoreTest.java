package example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.medqa.MedQA;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.io.DType;
import ai.medqa.metrics.lexical.TokenF1;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.quant.Quantization;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a user's build does with MedQA from a Maven repository: load, ask, score. */
class AskAndScoreTest {

    @Test
    void asksAndScores(@TempDir Path model) throws Exception {
        // No real weights can ship: a small random Mistral with Mistral's real tokenizer.
        RandomCheckpoint.write(model, RandomCheckpoint.config(64, 128, 2, 4, 2, 32000, 512, 0), DType.F32, 7);
        Files.copy(Path.of(System.getProperty("tokenizer.json")), model.resolve("tokenizer.json"));
        GenerationConfig greedy = GenerationConfig.greedy().toBuilder().maxNewTokens(12).build();
        try (MedQA medqa = MedQA.builder().model(model).quantize(Quantization.INT4).build()) {
            String answer = medqa.ask("Does aspirin reduce the risk of myocardial infarction?", greedy).text();
            assertFalse(answer.isEmpty());
            assertEquals(answer, medqa.ask("Does aspirin reduce the risk of myocardial infarction?", greedy).text());
            double f1 = TokenF1.squadF1(answer, "Yes, aspirin reduces the risk.");
            assertTrue(f1 >= 0 && f1 <= 1);
            assertEquals(1.0, TokenF1.squadF1("Yes, aspirin reduces the risk.", "yes aspirin reduces the risk"), 1e-12);
        }
    }
}
