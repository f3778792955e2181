package ai.medqa.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** medqa-eval's random Mistral (its golden) with Mistral's real tokenizer, assembled in a temporary folder. */
final class TinyModel {
    private static final Path WEIGHTS = Path.of("../medqa-eval/src/test/resources/golden/tiny-mistral");
    private static final Path TOKENIZERS = Path.of("../medqa-core/src/test/resources/tokenizer");

    private TinyModel() {}

    static Path write(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.copy(WEIGHTS.resolve("config.json"), dir.resolve("config.json"));
            Files.copy(WEIGHTS.resolve("model.safetensors"), dir.resolve("model.safetensors"));
            Files.copy(TOKENIZERS.resolve("mistral-7b-v0.1/tokenizer.json"), dir.resolve("tokenizer.json"));
            Files.copy(
                    TOKENIZERS.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"),
                    dir.resolve("tokenizer_config.json"));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
