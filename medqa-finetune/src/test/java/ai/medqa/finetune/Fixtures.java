package ai.medqa.finetune;

import java.net.URISyntaxException;
import java.nio.file.Path;

/** Test resources: model C and the LoRA goldens (shared from medqa-core), the tokenizer, PubMedQA. */
final class Fixtures {
    private Fixtures() {}

    static Path resource(String relative) {
        try {
            return Path.of(Fixtures.class.getResource("/" + relative).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test resource " + relative, e);
        }
    }

    /** The fixtures folder: lora/ and mistral-swa/f32 (model C). */
    static Path fixtures() {
        return resource("fixtures");
    }
}
