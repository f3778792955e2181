package ai.medqa;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.Generator;
import ai.medqa.io.Checkpoint;
import ai.medqa.generate.Generation;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.MistralModel;
import ai.medqa.tokenizer.Tokenizer;
import ai.medqa.tokenizer.TokenizerException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A loaded model (and its tokenizer, when the folder has one), ready to generate.
 *
 * <pre>{@code
 * try (MedQA medqa = MedQA.builder().model(Path.of("Mistral-7B-Instruct-v0.1")).device("cuda").build()) {
 *     System.out.println(medqa.generate("Aspirin is", 40).text());
 * }
 * }</pre>
 *
 * Not thread-safe: one generation at a time per instance. Closing releases all native memory.
 */
public final class MedQA implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MedQA.class);

    /** Compute precision of the forward pass. BF16 is not offered: DJL 0.36 crashes the JVM on it. */
    public enum Precision {
        F32(DataType.FLOAT32),
        F16(DataType.FLOAT16);

        final DataType dataType;

        Precision(DataType dataType) {
            this.dataType = dataType;
        }
    }

    private final MistralModel model;
    private final Tokenizer tokenizer;

    private final Generator generator;

    private MedQA(MistralModel model, Tokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.generator = new Generator(model, tokenizer);
    }

    public static Builder builder() {
        return new Builder();
    }

    public MistralConfig config() {
        return model.config();
    }

    /** The forward pass, for callers that drive it themselves (scoring, fine-tuning). */
    public MistralModel model() {
        return model;
    }

    /** The tokenizer; throws when the model folder has no {@code tokenizer.json}. */
    public Tokenizer tokenizer() {
        if (tokenizer == null) {
            throw new TokenizerException("this model was loaded without a tokenizer (no tokenizer.json in its folder); "
                    + "pass token ids instead of text");
        }
        return tokenizer;
    }

    /** Greedy continuation of {@code prompt} (encoded with BOS), up to {@code maxNewTokens} new tokens. */
    public Generation generate(String prompt, int maxNewTokens) {
        return generate(tokenizer().encode(prompt), GenerationConfig.greedy().toBuilder().maxNewTokens(maxNewTokens).build());
    }

    /** Greedy continuation of the token ids {@code prompt}; stops at the config's end-of-sequence ids. */
    public Generation generate(int[] prompt, int maxNewTokens) {
        return generate(prompt, GenerationConfig.greedy().toBuilder().maxNewTokens(maxNewTokens).build());
    }

    /** Continuation of {@code prompt} (plain text, encoded with BOS; no chat format). */
    public Generation generate(String prompt, GenerationConfig config) {
        return generator.generate(tokenizer().encode(prompt), config);
    }

    public Generation generate(int[] prompt, GenerationConfig config) {
        return generator.generate(prompt, config);
    }

    @Override
    public void close() {
        model.close();
        if (tokenizer != null) {
            tokenizer.close();
        }
    }

    /** Configures and loads a {@link MedQA}. */
    public static final class Builder {
        private Path modelDir;
        private Device device = Device.cpu();
        private Precision precision = Precision.F32;

        private Builder() {}

        /** A Hugging Face model folder: config.json, safetensors (single or sharded), tokenizer.json if any. */
        public Builder model(Path dir) {
            this.modelDir = Objects.requireNonNull(dir, "dir");
            return this;
        }

        public Builder device(Device device) {
            this.device = Objects.requireNonNull(device, "device");
            return this;
        }

        /** {@code cpu}, {@code cuda}, {@code cuda:N} (or {@code gpu}, {@code gpu:N}). */
        public Builder device(String name) {
            String n = name.trim().toLowerCase(java.util.Locale.ROOT);
            if (n.equals("cpu")) {
                return device(Device.cpu());
            }
            if (n.matches("(cuda|gpu)(:\\d+)?")) {
                int i = n.contains(":") ? Integer.parseInt(n.substring(n.indexOf(':') + 1)) : 0;
                return device(Device.gpu(i));
            }
            throw new IllegalArgumentException("device \"" + name + "\": expected cpu, cuda or cuda:N");
        }

        public Builder precision(Precision precision) {
            this.precision = Objects.requireNonNull(precision, "precision");
            return this;
        }

        public MedQA build() {
            if (modelDir == null) {
                throw new IllegalStateException("no model folder: call model(dir) before build()");
            }
            // DJL must never download an engine at run time; the native library ships as a jar.
            if (System.getProperty("ai.djl.offline") == null) {
                System.setProperty("ai.djl.offline", "true");
            }
            MistralConfig config = MistralConfig.load(modelDir);
            Tokenizer tokenizer = null;
            if (Files.exists(modelDir.resolve("tokenizer.json"))) {
                tokenizer = Tokenizer.load(modelDir);
                if (tokenizer.vocabSize() > config.vocabSize()) {
                    int size = tokenizer.vocabSize();
                    tokenizer.close();
                    throw new TokenizerException(modelDir.resolve("tokenizer.json") + ": the tokenizer has " + size
                            + " tokens but config.json vocab_size is " + config.vocabSize()
                            + "; ids past the embedding would be out of range");
                }
            } else {
                log.info("{} has no tokenizer.json: generation takes and returns token ids only", modelDir);
            }
            try {
                try (Checkpoint checkpoint = Checkpoint.open(modelDir)) {
                    MistralModel model = MistralModel.load(config, checkpoint, device, precision.dataType,
                            LinearFactory.DENSE);
                    return new MedQA(model, tokenizer);
                }
            } catch (RuntimeException e) {
                if (tokenizer != null) {
                    tokenizer.close();
                }
                throw e;
            }
        }
    }
}
