package ai.medqa;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.medqa.chat.ChatTemplate;
import ai.medqa.chat.Conversation;
import ai.medqa.common.Json;
import ai.medqa.common.MedQAException;
import ai.medqa.generate.BatchEngine;
import ai.medqa.generate.Constraint;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.Generator;
import ai.medqa.generate.JsonSchemas;
import ai.medqa.io.Checkpoint;
import ai.medqa.io.GgufFile;
import ai.medqa.lora.LoraAdapters;
import ai.medqa.model.Bf16Linear;
import ai.medqa.model.DenseLinear;
import ai.medqa.model.GgufModel;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MatmulPrecision;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.MistralModel;
import ai.medqa.model.PyTorchThreads;
import ai.medqa.quant.LmHead;
import ai.medqa.quant.Quantization;
import ai.medqa.quant.QuantizedLinears;
import ai.medqa.quant.internal.Int4Weight;
import ai.medqa.tokenizer.GgufTokenizer;
import ai.medqa.tokenizer.Tokenizer;
import ai.medqa.tokenizer.TokenizerException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A loaded model (and its tokenizer, when the folder has one), ready to generate.
 *
 * <pre>{@code
 * try (MedQA medqa = MedQA.builder().model(Path.of("Mistral-7B-Instruct-v0.1")).device("cuda").build()) {
 *     String answer = medqa.ask("Is aspirin an NSAID?").text();
 * }
 * }</pre>
 *
 * <p>Thread-safe: generation methods may be called from several threads at once (each request has
 * its own KV cache and sampler; the weights are shared, read-only); {@link #useAdapter} waits until
 * running requests finish and applies to the requests that start after it. A lazy {@link #stream}
 * that is still being read sees a later adapter switch from its next token on. Closing releases all
 * native memory; do not close while requests run.
 */
public final class MedQA implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MedQA.class);
    private final Path modelDir;
    /** Read: a request runs; write: the adapter changes. */
    private final ReentrantReadWriteLock requests = new ReentrantReadWriteLock();

    /**
     * Compute precision of the forward pass. {@code BF16} holds full-precision projections (and an
     * untied {@code lm_head}) in bfloat16 and multiplies them with bfloat16 inputs inside
     * TorchScript, as {@code torch.autocast} does; norms, attention, the residual stream, the KV
     * cache and embeddings stay float32 (DJL 0.36 crashes the JVM on bfloat16 arrays, so they never
     * leave the script).
     */
    public enum Precision {
        F32(DataType.FLOAT32),
        F16(DataType.FLOAT16),
        BF16(DataType.FLOAT32);

        final DataType dataType;

        Precision(DataType dataType) {
            this.dataType = dataType;
        }
    }

    /** The seed project's role prompt; it raised PubMedQA accuracy from ~55% to ~63% there. */
    public static final String MEDICAL_ASSISTANT_PROMPT =
            "You are a medical assistant trained on biomedical literature "
                    + "and clinical data. Answer the following question with accuracy and care. If unsure, suggest the user "
                    + "consult a qualified healthcare professional.";

    /**
     * Defaults of {@link #ask}: the seed project's {@code max_new_tokens=150} with sampling at
     * temperature 0.7 (worth ~5 F1 points over 1.0 there) and top-p 0.95.
     */
    public static final GenerationConfig ASK_DEFAULTS = GenerationConfig.sampling().toBuilder()
            .temperature(0.7)
            .topP(0.95)
            .maxNewTokens(150)
            .build();

    private final MistralModel model;
    private final Tokenizer tokenizer;
    private final Generator generator;
    private final String systemPrompt;
    private final GenerationConfig defaults;
    private ChatTemplate chatTemplate;

    /**
     * The adapters' names, republished after every change: read by request threads while an engine's
     * thread may be adding or removing one (the layers' own maps are not safe to walk meanwhile).
     */
    private volatile Set<String> adapterNames;

    private MedQA(
            Path modelDir, MistralModel model, Tokenizer tokenizer, String systemPrompt, GenerationConfig defaults) {
        this.modelDir = modelDir;
        this.model = model;
        this.tokenizer = tokenizer;
        this.generator = new Generator(model, tokenizer);
        this.systemPrompt = systemPrompt;
        this.defaults = defaults;
        this.adapterNames = Set.copyOf(LoraAdapters.of(model).adapters().keySet());
    }

    public static Builder builder() {
        return new Builder();
    }

    public MistralConfig config() {
        return model.config();
    }

    /** What a folder without {@code tokenizer.json} lacks, naming a sentencepiece {@code tokenizer.model} if there is one. */
    static String missingTokenizer(Path dir) {
        String s = dir + " has no tokenizer.json: text prompts need it, token ids work without";
        if (Files.exists(dir.resolve("tokenizer.model"))) {
            s +=
                    " (its tokenizer.model is sentencepiece's format, which MedQA does not read: write tokenizer.json with "
                            + "transformers' AutoTokenizer.from_pretrained(dir).save_pretrained(dir))";
        }
        return s;
    }

    /** The forward pass, for callers that drive it themselves (scoring, fine-tuning). */
    public MistralModel model() {
        return model;
    }

    /** The tokenizer; throws when the model folder has no {@code tokenizer.json}. */
    public Tokenizer tokenizer() {
        if (tokenizer == null) {
            throw new TokenizerException(missingTokenizer(modelDir) + "; pass token ids instead of text");
        }
        return tokenizer;
    }

    /** Greedy continuation of {@code prompt} (encoded with BOS), up to {@code maxNewTokens} new tokens. */
    public Generation generate(String prompt, int maxNewTokens) {
        return generate(
                tokenizer().encode(prompt),
                GenerationConfig.greedy().toBuilder().maxNewTokens(maxNewTokens).build());
    }

    /** Greedy continuation of the token ids {@code prompt}; stops at the config's end-of-sequence ids. */
    public Generation generate(int[] prompt, int maxNewTokens) {
        return generate(
                prompt,
                GenerationConfig.greedy().toBuilder().maxNewTokens(maxNewTokens).build());
    }

    /** Continuation of {@code prompt} (plain text, encoded with BOS; no chat format). */
    public Generation generate(String prompt, GenerationConfig config) {
        return generate(tokenizer().encode(prompt), config);
    }

    public Generation generate(int[] prompt, GenerationConfig config) {
        return locked(() -> generator.generate(prompt, config));
    }

    /**
     * Makes the LoRA adapter {@code name} (added with {@link Builder#lora}) apply to the following
     * requests, or none with null. Switching reloads nothing.
     */
    public void useAdapter(String name) {
        requests.writeLock().lock();
        try {
            LoraAdapters.of(model).activate(name);
        } finally {
            requests.writeLock().unlock();
        }
    }

    /**
     * Reads the PEFT adapter in {@code dir} and attaches it as {@code name}, while the model serves:
     * it waits for running direct calls ({@link #ask}, {@link #generate}, ...) and holds off new ones
     * meanwhile; an engine must call it between its steps ({@link BatchEngine#betweenSteps}). The
     * adapter is checked whole first (files, shapes, targets): a bad one leaves the model unchanged.
     */
    public void addAdapter(String name, Path dir) {
        requests.writeLock().lock();
        try {
            LoraAdapters.of(model).load(dir, name);
        } finally {
            adapterNames = Set.copyOf(LoraAdapters.of(model).adapters().keySet());
            requests.writeLock().unlock();
        }
    }

    /** Detaches and frees adapter {@code name}, under the same rules as {@link #addAdapter}. */
    public void removeAdapter(String name) {
        requests.writeLock().lock();
        try {
            LoraAdapters.of(model).remove(name);
        } finally {
            adapterNames = Set.copyOf(LoraAdapters.of(model).adapters().keySet());
            requests.writeLock().unlock();
        }
    }

    /**
     * A continuous-batching engine over this model (for servers and batch jobs): requests join the
     * running batch between steps, each with its own settings, seed and adapter; rows of different
     * adapters decode in the same forward pass. The engine names each row's adapter in its passes,
     * so it neither reads nor changes {@link #activeAdapter}: direct calls on this instance are
     * unaffected. Close the engine before this instance.
     */
    public BatchEngine newEngine(int maxBatch, int maxQueue) {
        return new BatchEngine(model, tokenizer, engineAdapters(), maxBatch, maxQueue);
    }

    /** This instance's adapters as an engine resolves them: names, and the ids its forward passes use. */
    public BatchEngine.Adapters engineAdapters() {
        return new BatchEngine.Adapters() {
            @Override
            public Set<String> names() {
                return adapters();
            }

            @Override
            public int id(String name) {
                return LoraAdapters.of(model).id(name);
            }
        };
    }

    /** Names of the LoRA adapters loaded (those it was built with, and any added since). */
    public Set<String> adapters() {
        return adapterNames;
    }

    /**
     * The adapter a request naming {@code model} means, where adapters are addressed by model name
     * (as OpenAI's API, langchain4j and Spring AI address models): null for the base model
     * ({@code model} null or {@code baseName}), else {@code model}, which must be an attached adapter.
     *
     * @param field the setting's name as the caller's users know it, for the error
     * @throws IllegalArgumentException naming {@code field} when {@code model} is neither
     */
    public String adapterForModel(String field, String model, String baseName) {
        if (model == null || model.equals(baseName)) {
            return null;
        }
        Set<String> attached = adapters();
        if (!attached.contains(model)) {
            throw new IllegalArgumentException(field + " " + model + " is neither this model (" + baseName
                    + ") nor one of its adapters " + attached);
        }
        return model;
    }

    /** The active LoRA adapter, if any. */
    public Optional<String> activeAdapter() {
        return LoraAdapters.of(model).active();
    }

    /**
     * The ids {@link #chat} feeds for {@code conversation} (the chat template, oldest turns left out
     * to leave room for {@code max_new_tokens}).
     *
     * @throws ai.medqa.model.ContextOverflowException when the last user turn alone does not fit
     */
    public int[] chatPromptIds(Conversation conversation, GenerationConfig config) {
        return promptIds(conversation, config);
    }

    /**
     * Several prompts of token ids at once (a left-padded batch; each row stops on its own and, with a
     * seed, samples exactly as it would alone).
     */
    public List<Generation> generateIdsBatch(List<int[]> prompts, GenerationConfig config) {
        return locked(() -> generator.generateBatch(prompts, config));
    }

    /** Several plain-text prompts at once (left-padded batch); each row stops on its own. */
    public List<Generation> generateBatch(List<String> prompts, GenerationConfig config) {
        List<int[]> ids = prompts.stream().map(tokenizer()::encode).toList();
        return locked(() -> generator.generateBatch(ids, config));
    }

    /**
     * Answers one question in the model's chat format, with the configured system prompt folded into
     * the user turn, using the default generation settings.
     */
    public Generation ask(String question) {
        return ask(question, defaults);
    }

    public Generation ask(String question, GenerationConfig config) {
        return chat(newConversation().addUser(question), config);
    }

    /**
     * The schema and compiled constraint of each record type asked for: compiling a schema's DFA
     * takes milliseconds to seconds, and the constraint keeps its per-state token sets, so every
     * question of a type after the first reuses both. A ClassValue goes with its class (and class
     * loader); a derivation that fails is not cached, so it fails the same way each time.
     */
    private static final ClassValue<TypedAnswer> TYPED = new ClassValue<>() {
        @Override
        protected TypedAnswer computeValue(Class<?> type) {
            JsonNode schema = JsonSchemas.of(type);
            return new TypedAnswer(schema, schema.toString(), Constraint.jsonSchema(schema));
        }
    };

    private record TypedAnswer(JsonNode schema, String schemaText, Constraint constraint) {}

    /** The shared mapper's settings plus {@code Optional} (record components may be optional). */
    private static final ObjectMapper TYPED_READER = Json.MAPPER.copy().registerModule(new Jdk8Module());

    /** {@link #ask(String, Class, GenerationConfig)} with the default generation settings. */
    public <T> T ask(String question, Class<T> type) {
        return ask(question, type, defaults);
    }

    /**
     * Answers {@code question} as a value of the record {@code type}: the answer is constrained to
     * the JSON Schema {@link JsonSchemas#of} derives from it (so it always parses) and read with
     * Jackson. The question is followed by that schema ("Answer in JSON that follows this JSON
     * Schema: ..."): the constraint forces the shape, but only the prompt tells the model what the
     * fields mean ({@code @JsonPropertyDescription}). Each type's constraint is compiled once.
     *
     * @throws IllegalArgumentException when {@code type} has no schema (naming the component), or
     *     {@code config} already has a constraint
     * @throws MedQAException when the answer was cut before its JSON was complete (raise
     *     {@code max_new_tokens})
     */
    public <T> T ask(String question, Class<T> type, GenerationConfig config) {
        Objects.requireNonNull(type, "type");
        if (config.constraint().isPresent()) {
            throw new IllegalArgumentException("the generation config has a constraint ("
                    + config.constraint().get()
                    + "), but a typed answer brings its own (the JSON Schema of " + type.getTypeName() + "): "
                    + "pass a config without one");
        }
        TypedAnswer typed = TYPED.get(type);
        Generation g = ask(
                question + "\n\nAnswer in JSON that follows this JSON Schema: " + typed.schemaText(),
                config.toBuilder().constraint(typed.constraint()).build());
        String cut = switch (g.stopReason()) {
            case CONSTRAINT_COMPLETE, EOS -> null;
            case MAX_NEW_TOKENS ->
                "did not complete within max_new_tokens=" + config.maxNewTokens() + " (the JSON was still "
                        + "open after " + g.tokens().length + " tokens): raise max_new_tokens";
            case CONTEXT_FULL ->
                "was cut when the model's context (max_position_embeddings=" + config().maxPositionEmbeddings()
                        + ") filled up: shorten the question";
            case STOP_STRING ->
                "was cut by one of the stop strings " + config.stopStrings() + ": ask typed answers without "
                        + "stop_strings";
        };
        if (cut != null) {
            throw new MedQAException("the " + type.getSimpleName() + " answer " + cut);
        }
        try {
            return TYPED_READER.readValue(g.text(), type);
        } catch (JsonProcessingException e) {
            // The constraint should make this impossible; if it happens, the text is what to look at.
            throw new MedQAException(
                    "the answer does not read as " + type.getTypeName() + " (" + e.getOriginalMessage() + "): "
                            + g.text(),
                    e);
        }
    }

    /** Like {@link #ask}, calling {@code onText} with each piece of the answer as it is generated. */
    public Generation stream(String question, GenerationConfig config, Consumer<String> onText) {
        return chat(newConversation().addUser(question), config, onText);
    }

    /** The answer as a lazy stream of text pieces; close it (or read it to the end) to free the cache. */
    public Stream<String> stream(String question, GenerationConfig config) {
        Stream<String> pieces =
                locked(() -> generator.stream(promptIds(newConversation().addUser(question), config), config));
        Iterator<String> it = pieces.iterator();
        // Each step runs under the read lock, so an adapter switch waits for the step, not the whole stream.
        Iterator<String> guarded = new Iterator<>() {
            @Override
            public boolean hasNext() {
                return locked(it::hasNext);
            }

            @Override
            public String next() {
                return locked(it::next);
            }
        };
        return StreamSupport.stream(
                        Spliterators.spliteratorUnknownSize(guarded, Spliterator.ORDERED | Spliterator.NONNULL), false)
                .onClose(pieces::close);
    }

    /** An empty conversation with this instance's system prompt. */
    public Conversation newConversation() {
        return systemPrompt == null ? new Conversation() : new Conversation(systemPrompt);
    }

    /** Continues {@code conversation} (whose last turn is the user's) and appends the reply to it. */
    public Generation chat(Conversation conversation) {
        return chat(conversation, defaults);
    }

    public Generation chat(Conversation conversation, GenerationConfig config) {
        return chat(conversation, config, text -> {});
    }

    /**
     * Continues {@code conversation}, streaming the reply to {@code onText}; the oldest turns are
     * dropped from the prompt (never the system prompt) when it would not leave room for
     * {@code max_new_tokens}.
     */
    public Generation chat(Conversation conversation, GenerationConfig config, Consumer<String> onText) {
        int[] prompt = promptIds(conversation, config);
        Generation g = locked(() -> generator.generate(prompt, config, (id, text) -> {
            if (!text.isEmpty()) {
                onText.accept(text);
            }
        }));
        conversation.addAssistant(g.text());
        return g;
    }

    private <T> T locked(Supplier<T> request) {
        requests.readLock().lock();
        try {
            return request.get();
        } finally {
            requests.readLock().unlock();
        }
    }

    /** The chat template: the Jinja {@code chat_template} of tokenizer_config.json, else Mistral's format. */
    public synchronized ChatTemplate chatTemplate() {
        if (chatTemplate == null) {
            chatTemplate = ChatTemplate.of(tokenizer());
        }
        return chatTemplate;
    }

    private int[] promptIds(Conversation conversation, GenerationConfig config) {
        int room = model.config().maxPositionEmbeddings() - config.maxNewTokens();
        return conversation.toIds(chatTemplate(), Math.max(1, room));
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
        private Quantization quantization = Quantization.NONE;
        private int groupSize = QuantizedLinears.DEFAULT_GROUP_SIZE;
        private LmHead lmHead = LmHead.COMPUTE;
        private boolean dequantize;
        private int threads;
        private MatmulPrecision matmulPrecision = MatmulPrecision.HIGHEST;
        private String systemPrompt = MEDICAL_ASSISTANT_PROMPT;
        private final LinkedHashMap<String, Path> loras = new LinkedHashMap<>();
        private GenerationConfig defaults = ASK_DEFAULTS;

        private Builder() {}

        /**
         * A Hugging Face model folder (config.json, safetensors single or sharded, tokenizer.json if
         * any), or a GGUF file of architecture llama (with the tokenizer and chat template it carries;
         * a file without one takes tokenizer.json beside it).
         */
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
            String n = name.trim().toLowerCase(Locale.ROOT);
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

        /**
         * How projections are held: {@link Quantization#INT4} (group-wise int4 on PyTorch's packed
         * kernels, ~4.5 bits per weight at group 64: the fastest), {@link Quantization#NF4}
         * (bitsandbytes' 4-bit, ~4.13 bits per weight; for bitsandbytes checkpoints and QLoRA),
         * {@link Quantization#INT8}, or as stored ({@link Quantization#NONE}, the default).
         * Quantization happens on load, tensor by tensor; a quantized checkpoint (bitsandbytes NF4,
         * or MedQA's INT4/INT8 from {@code medqa quantize}) loads as stored, except that INT4 asked of
         * an NF4 checkpoint requantizes it (with a warning). {@code lm_head}, embeddings and norms stay
         * in the compute dtype.
         */
        public Builder quantize(Quantization quantization) {
            this.quantization = Objects.requireNonNull(quantization, "quantization");
            return this;
        }

        /**
         * With {@link Quantization#NONE}: a quantized model's projections (bitsandbytes NF4, MedQA
         * INT4/INT8, a GGUF file's Q4_0/Q4_K/Q8_0/... blocks) dequantized on load to the compute
         * precision, keeping exactly the stored values, instead of loading as stored: more memory and
         * slower decode, the file's numbers as the reference libraries compute them. Default false.
         */
        public Builder dequantize(boolean dequantize) {
            this.dequantize = dequantize;
            return this;
        }

        /** INT4's group size: 32, 64 (default), 128 or 256 inputs share a scale and zero. */
        public Builder groupSize(int groupSize) {
            if (!Int4Weight.supportedGroupSize(groupSize)) {
                throw new IllegalArgumentException("group size must be 32, 64, 128 or 256, got " + groupSize);
            }
            this.groupSize = groupSize;
            return this;
        }

        /**
         * How {@code lm_head} is held: in the compute dtype ({@link ai.medqa.quant.LmHead#COMPUTE}, the
         * default, as transformers keeps it), int8 (one scale per row) or int4 (the INT4 group size).
         * On small models it is the largest matrix read per token; on Mistral-7B 2% of the weights.
         * A head tied to the embedding gets a quantized copy; the embedding stays as it is. A GGUF
         * file's quantized head (llama.cpp stores it Q6_K) loads as stored with COMPUTE, as its other
         * projections do; {@link #dequantize} keeps it in the compute dtype.
         */
        public Builder lmHead(LmHead head) {
            this.lmHead = Objects.requireNonNull(head, "head");
            return this;
        }

        /**
         * Internal precision of float32 products, as {@code torch.set_float32_matmul_precision}:
         * {@link MatmulPrecision#HIGHEST} (the default) or
         * {@link MatmulPrecision#MEDIUM}, which runs F32 products of 128 rows or more
         * (long prompts, likelihood scoring, wide batches) as bfloat16 GEMMs: faster, about bfloat16's
         * error; decode stays float32. Only for {@link Precision#F32}.
         */
        public Builder float32MatmulPrecision(MatmulPrecision precision) {
            this.matmulPrecision = Objects.requireNonNull(precision, "precision");
            return this;
        }

        /**
         * PyTorch's intra-op threads, for the whole process (0, the default: PyTorch's own choice, one
         * per physical core). With other busy processes on the machine, use the cores left free:
         * PyTorch's workers spin, and on 2 cores with one busy throughput drops 5-15x.
         */
        public Builder threads(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("threads must be >= 1 (or 0 for PyTorch's default), got " + n);
            }
            this.threads = n;
            return this;
        }

        /**
         * A PEFT LoRA adapter folder ({@code adapter_config.json}, {@code adapter_model.safetensors}),
         * named after the folder. The first adapter added is active after {@link #build()}; switch with
         * {@link MedQA#useAdapter}.
         */
        public Builder lora(Path adapterDir) {
            return lora(adapterDir.toAbsolutePath().normalize().getFileName().toString(), adapterDir);
        }

        /** A LoRA adapter under a name of your choice. */
        public Builder lora(String name, Path adapterDir) {
            if (loras.putIfAbsent(name, Objects.requireNonNull(adapterDir, "adapterDir")) != null) {
                throw new IllegalArgumentException("two LoRA adapters named \"" + name + "\"");
            }
            return this;
        }

        /** The system prompt of {@link #ask} and new conversations; null for none. */
        public Builder systemPrompt(String prompt) {
            this.systemPrompt = prompt;
            return this;
        }

        /** Generation settings {@link #ask}, {@link #stream} and {@link #chat} use when given none. */
        public Builder generationConfig(GenerationConfig config) {
            this.defaults = Objects.requireNonNull(config, "config");
            return this;
        }

        /**
         * Fails at once, before anything loads, when a GPU is asked for and DJL's PyTorch engine sees
         * none: what DJL resolved, and the two ways to get CUDA natives.
         */
        static void requireDevice(Device device) {
            if (!device.isGpu()) {
                return;
            }
            Engine engine = Engine.getEngine("PyTorch");
            int gpus = engine.getGpuCount();
            if (device.getDeviceId() < gpus) {
                return;
            }
            throw new IllegalStateException(
                    "device " + device + " was asked for, but DJL's PyTorch engine (PyTorch "
                            + engine.getVersion() + ", ai.djl.offline=" + System.getProperty("ai.djl.offline", "false")
                            + ", PYTORCH_LIBRARY_PATH=" + System.getenv().getOrDefault("PYTORCH_LIBRARY_PATH", "unset")
                            + ", PYTORCH_FLAVOR=" + System.getenv().getOrDefault("PYTORCH_FLAVOR", "unset") + ") sees "
                            + gpus
                            + " GPU(s). For CUDA, either leave the CPU natives (medqa-runtime-cpu, pytorch-native-cpu) off the class "
                            + "path and run online so DJL downloads its cu128 natives, or set PYTORCH_LIBRARY_PATH to a local "
                            + "PyTorch 2.7.1 built for CUDA with PYTORCH_VERSION=2.7.1 and PYTORCH_FLAVOR=cu128 (README, CUDA)");
        }

        public MedQA build() {
            if (modelDir == null) {
                throw new IllegalStateException("no model folder: call model(dir) before build()");
            }
            requireDevice(device);
            if (dequantize && quantization != Quantization.NONE) {
                throw new IllegalArgumentException(
                        "dequantize applies to quantization none (loading a quantized model's "
                                + "values exactly), not to " + quantization + ", which quantizes anyway");
            }
            if (matmulPrecision != MatmulPrecision.HIGHEST && precision != Precision.F32) {
                throw new IllegalArgumentException("float32 matmul precision " + matmulPrecision
                        + " applies to precision F32; " + "the products of " + precision + " are not float32");
            }
            if (threads > 0) {
                PyTorchThreads.set(threads);
            }
            // A GGUF file: weights, configuration and (when it has one) tokenizer and chat template from
            // the file; without one, tokenizer.json beside it.
            GgufFile gguf = GgufModel.is(modelDir) ? GgufFile.open(modelDir) : null;
            Tokenizer tokenizer = null;
            // Whatever fails below closes what was opened (the checkpoint closes the GGUF file too;
            // closing twice is harmless).
            try {
                MistralConfig config = gguf != null ? GgufModel.config(gguf) : MistralConfig.load(modelDir);
                Path tokenizerDir = gguf != null ? modelDir.toAbsolutePath().getParent() : modelDir;
                Path tokenizerFile;
                if (gguf != null && GgufTokenizer.has(gguf)) {
                    tokenizer = GgufTokenizer.load(gguf);
                    tokenizerFile = modelDir;
                    log.info("tokenizer and chat template from {}", modelDir);
                } else if (Files.exists(tokenizerDir.resolve("tokenizer.json"))) {
                    tokenizer = Tokenizer.load(tokenizerDir);
                    tokenizerFile = tokenizerDir.resolve("tokenizer.json");
                } else {
                    tokenizerFile = null;
                    log.warn("{}", missingTokenizer(tokenizerDir));
                }
                if (tokenizer != null && tokenizer.vocabSize() > config.vocabSize()) {
                    throw new TokenizerException(tokenizerFile + ": the tokenizer has " + tokenizer.vocabSize()
                            + " tokens but "
                            + (gguf != null
                                    ? "the model's token_embd.weight has " + config.vocabSize() + " rows"
                                    : "config.json vocab_size is " + config.vocabSize())
                            + "; ids past the embedding would be out of range");
                }
                try (Checkpoint checkpoint =
                        gguf != null ? GgufModel.checkpoint(gguf, config) : Checkpoint.open(modelDir)) {
                    LinearFactory linears = quantization.linears(groupSize, lmHead, dequantize);
                    linears = precision == Precision.BF16
                            ? Bf16Linear.converting(linears)
                            : DenseLinear.withMatmulPrecision(linears, matmulPrecision);
                    MistralModel model = MistralModel.load(config, checkpoint, device, precision.dataType, linears);
                    try {
                        if (!loras.isEmpty()) {
                            LoraAdapters adapters = LoraAdapters.of(model);
                            loras.forEach((name, dir) -> adapters.load(dir, name));
                            adapters.activate(loras.keySet().iterator().next());
                        }
                    } catch (RuntimeException e) {
                        model.close();
                        throw e;
                    }
                    return new MedQA(modelDir, model, tokenizer, systemPrompt, defaults);
                }
            } catch (RuntimeException e) {
                if (tokenizer != null) {
                    tokenizer.close();
                }
                if (gguf != null) {
                    gguf.close();
                }
                throw e;
            }
        }
    }
}
