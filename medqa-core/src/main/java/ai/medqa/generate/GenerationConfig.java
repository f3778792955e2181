package ai.medqa.generate;

import ai.medqa.common.Json;
import ai.medqa.common.JsonFields;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decoding settings, with the meaning and defaults of Hugging Face's {@code GenerationConfig} so that
 * numbers measured in Python carry over: greedy unless {@code doSample}; temperature 1.0, top-k 50,
 * top-p 1.0, min-p unset, repetition penalty 1.0.
 *
 * <p>Differences from Hugging Face, on purpose:
 * <ul>
 *   <li>{@code temperature == 0} means greedy decoding, also with {@code doSample}; transformers raises
 *       an error there. Greedy is what every other runtime (vLLM, llama.cpp, the OpenAI API) does with 0.
 *   <li>{@code maxNewTokens} defaults to 256 (transformers' default is a total {@code max_length} of 20,
 *       which is too short for an answer).
 *   <li>A {@code seed} makes a run reproducible in Java, but the tokens are not those of the same seed in
 *       PyTorch: {@code torch.multinomial}'s random stream is not reproduced (see {@link Sampler}).
 * </ul>
 *
 * <p>Immutable; build with {@link #builder()} or derive with {@link #toBuilder()}.
 */
public final class GenerationConfig {
    private static final Logger LOG = LoggerFactory.getLogger(GenerationConfig.class);
    static final int DEFAULT_MAX_NEW_TOKENS = 256;

    private final boolean doSample;
    private final double temperature;
    private final int topK;
    private final double topP;
    private final Double minP;
    private final double repetitionPenalty;
    private final int maxNewTokens;
    private final Set<Integer> eosTokenIds; // null = take them from the model's config
    private final List<String> stopStrings;
    private final Long seed; // null = a fresh random seed per sampler
    private final Constraint constraint; // null = free text
    private final int logprobs; // -1 = none; else the number of most likely tokens to list per step

    private GenerationConfig(Builder b) {
        this.doSample = b.doSample;
        this.temperature = b.temperature;
        this.topK = b.topK;
        this.topP = b.topP;
        this.minP = b.minP;
        this.repetitionPenalty = b.repetitionPenalty;
        this.maxNewTokens = b.maxNewTokens;
        this.eosTokenIds =
                b.eosTokenIds == null ? null : Collections.unmodifiableSet(new LinkedHashSet<>(b.eosTokenIds));
        this.stopStrings = List.copyOf(b.stopStrings);
        this.seed = b.seed;
        this.constraint = b.constraint;
        this.logprobs = b.logprobs;
    }

    /** Hugging Face's defaults: greedy decoding, 256 new tokens at most. */
    public static GenerationConfig greedy() {
        return builder().build();
    }

    /** Sampling with Hugging Face's defaults for the other knobs (temperature 1.0, top-k 50, top-p 1.0). */
    public static GenerationConfig sampling() {
        return builder().doSample(true).build();
    }

    /** Hugging Face's file of a model's generation defaults. */
    public static final String FILE_NAME = "generation_config.json";

    /**
     * The defaults a model folder's {@code generation_config.json} sets, as transformers'
     * {@code generate()} takes them ({@code do_sample}, {@code temperature}, {@code top_k},
     * {@code top_p}, {@code min_p}, {@code repetition_penalty}, {@code max_new_tokens},
     * {@code eos_token_id}; other fields are not decoding settings here and are ignored); greedy
     * decoding with this class's defaults when the folder has none.
     *
     * @throws GenerationConfigException naming the file and field when a value has the wrong type or range
     */
    public static GenerationConfig load(Path modelDir) {
        Path file = modelDir.resolve(FILE_NAME);
        Builder b = builder();
        if (!Files.isRegularFile(file)) {
            return b.build();
        }
        ObjectNode json = Json.readObject(file, null, (message, cause) -> new GenerationConfigException(message));
        JsonFields f = new JsonFields(json, file.toString(), GenerationConfigException::new);
        JsonNode sample = json.get("do_sample");
        if (sample != null && !sample.isNull()) {
            if (!sample.isBoolean()) {
                throw f.error("do_sample", sample.toString(), "true or false");
            }
            b.doSample(sample.asBoolean());
        }
        b.temperature(f.optionalDouble("temperature", b.temperature));
        b.topK(f.optionalInt("top_k", b.topK));
        b.topP(f.optionalDouble("top_p", b.topP));
        if (json.hasNonNull("min_p")) {
            b.minP(f.optionalDouble("min_p", 0));
        }
        b.repetitionPenalty(f.optionalDouble("repetition_penalty", b.repetitionPenalty));
        b.maxNewTokens(f.optionalInt("max_new_tokens", b.maxNewTokens));
        JsonNode eos = json.get("eos_token_id");
        if (eos != null && !eos.isNull()) {
            List<Integer> ids = new ArrayList<>();
            for (JsonNode id : eos.isArray() ? eos : List.of(eos)) {
                ids.add(f.integer("eos_token_id", id));
            }
            b.eosTokenIds(ids);
        }
        try {
            return b.build();
        } catch (GenerationConfigException e) {
            throw new GenerationConfigException(file + ": " + e.getMessage());
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.doSample = doSample;
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.minP = minP;
        b.repetitionPenalty = repetitionPenalty;
        b.maxNewTokens = maxNewTokens;
        b.eosTokenIds = eosTokenIds;
        b.stopStrings = new ArrayList<>(stopStrings);
        b.seed = seed;
        b.constraint = constraint;
        b.logprobs = logprobs;
        return b;
    }

    /** True when the next token is the argmax: sampling off, or temperature 0. */
    public boolean isGreedy() {
        return !doSample || temperature == 0.0;
    }

    public boolean doSample() {
        return doSample;
    }

    public double temperature() {
        return temperature;
    }

    /** 0 = no top-k filtering. */
    public int topK() {
        return topK;
    }

    /** 1.0 = no top-p filtering. */
    public double topP() {
        return topP;
    }

    public OptionalDouble minP() {
        return minP == null ? OptionalDouble.empty() : OptionalDouble.of(minP);
    }

    public double repetitionPenalty() {
        return repetitionPenalty;
    }

    public int maxNewTokens() {
        return maxNewTokens;
    }

    /** The end-of-sequence ids set here; empty when they should come from the model's config. */
    public Optional<Set<Integer>> eosTokenIds() {
        return Optional.ofNullable(eosTokenIds);
    }

    /** The end-of-sequence ids set here, or else {@code modelDefault} (from the checkpoint's config). */
    public Set<Integer> eosTokenIdsOr(Set<Integer> modelDefault) {
        return eosTokenIds != null ? eosTokenIds : Set.copyOf(modelDefault);
    }

    public List<String> stopStrings() {
        return stopStrings;
    }

    public OptionalLong seed() {
        return seed == null ? OptionalLong.empty() : OptionalLong.of(seed);
    }

    /** What the answer must match ({@link Constraint}), if anything. */
    public Optional<Constraint> constraint() {
        return Optional.ofNullable(constraint);
    }

    /**
     * Whether each new token's log-probability is kept ({@link Generation#logprobs()}), and how many
     * of each step's most likely tokens with it; empty when not asked.
     */
    public OptionalInt logprobs() {
        return logprobs < 0 ? OptionalInt.empty() : OptionalInt.of(logprobs);
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof GenerationConfig)) {
            return false;
        }
        GenerationConfig c = (GenerationConfig) o;
        return doSample == c.doSample
                && Double.compare(temperature, c.temperature) == 0
                && topK == c.topK
                && Double.compare(topP, c.topP) == 0
                && Objects.equals(minP, c.minP)
                && Double.compare(repetitionPenalty, c.repetitionPenalty) == 0
                && maxNewTokens == c.maxNewTokens
                && Objects.equals(eosTokenIds, c.eosTokenIds)
                && stopStrings.equals(c.stopStrings)
                && Objects.equals(seed, c.seed)
                && Objects.equals(constraint, c.constraint)
                && logprobs == c.logprobs;
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                doSample,
                temperature,
                topK,
                topP,
                minP,
                repetitionPenalty,
                maxNewTokens,
                eosTokenIds,
                stopStrings,
                seed,
                constraint,
                logprobs);
    }

    /** Sampling settings given without {@code doSample}, as transformers lists them when it warns; "" if none. */
    String unusedSamplingSettings() {
        List<String> set = new ArrayList<>();
        if (temperature != 1.0) {
            set.add("temperature=" + temperature);
        }
        if (topK != 50) {
            set.add("top_k=" + topK);
        }
        if (topP != 1.0) {
            set.add("top_p=" + topP);
        }
        if (minP != null) {
            set.add("min_p=" + minP);
        }
        return String.join(", ", set);
    }

    /** One line, field names as in Hugging Face, so that a grid's table reads like the Python one. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("GenerationConfig{do_sample=").append(doSample);
        if (doSample) {
            s.append(", temperature=")
                    .append(temperature)
                    .append(", top_k=")
                    .append(topK)
                    .append(", top_p=")
                    .append(topP);
            if (minP != null) {
                s.append(", min_p=").append(minP);
            }
        } else if (!unusedSamplingSettings().isEmpty()) {
            s.append(", ").append(unusedSamplingSettings()).append(" (unused: do_sample=false)");
        }
        s.append(", repetition_penalty=")
                .append(repetitionPenalty)
                .append(", max_new_tokens=")
                .append(maxNewTokens);
        if (eosTokenIds != null) {
            s.append(", eos_token_id=").append(eosTokenIds);
        }
        if (!stopStrings.isEmpty()) {
            s.append(", stop_strings=").append(stopStrings);
        }
        if (seed != null) {
            s.append(", seed=").append(seed);
        }
        if (constraint != null) {
            s.append(", constraint=").append(constraint);
        }
        if (logprobs >= 0) {
            s.append(", logprobs=").append(logprobs);
        }
        return s.append('}').toString();
    }

    /** Collects settings; {@link #build()} checks them all and names the first one out of range. */
    public static final class Builder {
        private boolean doSample = false;
        private double temperature = 1.0;
        private int topK = 50;
        private double topP = 1.0;
        private Double minP = null;
        private double repetitionPenalty = 1.0;
        private int maxNewTokens = DEFAULT_MAX_NEW_TOKENS;
        private Set<Integer> eosTokenIds = null;
        private List<String> stopStrings = new ArrayList<>();
        private Long seed = null;
        private Constraint constraint = null;
        private int logprobs = -1;

        private Builder() {}

        public Builder doSample(boolean doSample) {
            this.doSample = doSample;
            return this;
        }

        /**
         * The settings a chat API call may give (OpenAI's, langchain4j's, Spring AI's), each null to
         * keep this builder's: a temperature samples when above 0 and decodes greedily at 0; max
         * tokens is max_new_tokens; stop sequences replace the stop strings when there are any.
         */
        public Builder chatOverrides(
                Double temperature, Double topP, Integer topK, Integer maxTokens, Collection<String> stop) {
            if (temperature != null) {
                temperature(temperature).doSample(temperature > 0);
            }
            if (topP != null) {
                topP(topP);
            }
            if (topK != null) {
                topK(topK);
            }
            if (maxTokens != null) {
                maxNewTokens(maxTokens);
            }
            if (stop != null && !stop.isEmpty()) {
                stopStrings(stop);
            }
            return this;
        }

        /** Divides the logits before filtering; must be >= 0, and 0 means greedy. */
        public Builder temperature(double temperature) {
            this.temperature = temperature;
            return this;
        }

        /** Keeps the k highest logits (ties with the k-th kept); 0 turns top-k off. */
        public Builder topK(int topK) {
            this.topK = topK;
            return this;
        }

        /** Keeps the most probable tokens whose probabilities add up to at least top_p; in (0, 1], 1 = off. */
        public Builder topP(double topP) {
            this.topP = topP;
            return this;
        }

        /** Drops tokens less probable than min_p times the most probable one; in [0, 1]. */
        public Builder minP(double minP) {
            this.minP = minP;
            return this;
        }

        public Builder clearMinP() {
            this.minP = null;
            return this;
        }

        /** Over prompt and generated ids: positive logits divided, negative multiplied; > 0, 1 = off. */
        public Builder repetitionPenalty(double repetitionPenalty) {
            this.repetitionPenalty = repetitionPenalty;
            return this;
        }

        public Builder maxNewTokens(int maxNewTokens) {
            this.maxNewTokens = maxNewTokens;
            return this;
        }

        /** Overrides the model's end-of-sequence ids; an empty set means "never stop on a token". */
        public Builder eosTokenIds(Collection<Integer> eosTokenIds) {
            this.eosTokenIds = eosTokenIds == null ? null : new LinkedHashSet<>(eosTokenIds);
            return this;
        }

        /** Back to "take the end-of-sequence ids from the model's config". */
        public Builder clearEosTokenIds() {
            this.eosTokenIds = null;
            return this;
        }

        public Builder stopStrings(Collection<String> stopStrings) {
            this.stopStrings = new ArrayList<>(Objects.requireNonNull(stopStrings, "stopStrings"));
            return this;
        }

        public Builder stopStrings(String... stopStrings) {
            return stopStrings(List.of(stopStrings));
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** The answer must match {@code constraint} ({@link Constraint}); null for free text. */
        public Builder constraint(Constraint constraint) {
            this.constraint = constraint;
            return this;
        }

        /**
         * Keep each new token's log-probability under the model ({@link TokenLogprob}) with the
         * {@code top} most likely tokens of its step (0 to 20, OpenAI's range); -1 for none (the default).
         */
        public Builder logprobs(int top) {
            if (top < -1 || top > 20) {
                throw new GenerationConfigException("logprobs: the number of most likely tokens must be in [0, 20] "
                        + "(or -1 for none), got " + top);
            }
            this.logprobs = top;
            return this;
        }

        /** Back to a fresh random seed for each sampler. */
        public Builder clearSeed() {
            this.seed = null;
            return this;
        }

        /**
         * Checks and builds. Sampling settings without {@code doSample(true)} are kept but unused, as in
         * transformers, which warns the same way (decision: warn, do not switch sampling on silently).
         */
        public GenerationConfig build() {
            if (!(temperature >= 0.0) || Double.isInfinite(temperature)) {
                throw invalid("temperature", "a finite number >= 0 (0 = greedy)", temperature);
            }
            if (topK < 0) {
                throw invalid("topK", "an integer >= 0 (0 = off)", topK);
            }
            if (!(topP > 0.0 && topP <= 1.0)) {
                throw invalid("topP", "(0, 1] (1 = off)", topP);
            }
            if (minP != null && !(minP >= 0.0 && minP <= 1.0)) {
                throw invalid("minP", "[0, 1]", minP);
            }
            if (!(repetitionPenalty > 0.0) || Double.isInfinite(repetitionPenalty)) {
                throw invalid("repetitionPenalty", "a finite number > 0 (1 = off)", repetitionPenalty);
            }
            if (maxNewTokens < 1) {
                throw invalid("maxNewTokens", "an integer >= 1", maxNewTokens);
            }
            if (eosTokenIds != null) {
                for (Integer id : eosTokenIds) {
                    if (id == null || id < 0) {
                        throw invalid("eosTokenIds", "token ids >= 0", eosTokenIds);
                    }
                }
            }
            for (String s : stopStrings) {
                if (s == null || s.isEmpty()) {
                    throw invalid("stopStrings", "non-empty strings", stopStrings);
                }
            }
            GenerationConfig config = new GenerationConfig(this);
            if (!doSample && !config.unusedSamplingSettings().isEmpty()) {
                LOG.warn(
                        "do_sample is false, but {} is set: sampling settings are used only with doSample(true); "
                                + "decoding stays greedy",
                        config.unusedSamplingSettings());
            }
            return config;
        }

        private static GenerationConfigException invalid(String field, String allowed, Object value) {
            return new GenerationConfigException(field, allowed, value);
        }
    }
}
