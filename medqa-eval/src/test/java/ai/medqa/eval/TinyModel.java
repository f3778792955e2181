package ai.medqa.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The golden's random Mistral with Mistral's real tokenizer, assembled in a temporary folder. */
final class TinyModel {
    static final Path TOKENIZERS = Path.of("../medqa-core/src/test/resources/tokenizer");

    private TinyModel() {}

    static Path resource(String name) {
        try {
            return Path.of(TinyModel.class.getResource("/golden/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test resource golden/" + name, e);
        }
    }

    static Path write(Path dir) {
        try {
            Files.createDirectories(dir);
            Path src = resource("tiny-mistral");
            Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
            Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
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
