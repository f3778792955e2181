package ai.medqa.spring.boot;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code medqa.*}: the model the application's {@code MedQA} bean loads and how. Nothing loads
 * without {@code medqa.model}.
 */
@ConfigurationProperties(prefix = "medqa")
public class MedQAProperties {
    /**
     * The model: a Hugging Face folder (config.json, safetensors, tokenizer.json), a GGUF file, or
     * ollama:NAME[:TAG] (a model Ollama pulled).
     */
    private String model;

    /** How projections are held: none (as stored, the default), int4 (fastest on CPU), int8 or nf4. */
    private String quantize = "none";

    /** Compute precision: F32 (default), F16 or BF16. */
    private String precision = "F32";

    /** cpu (default), cuda or cuda:N. */
    private String device = "cpu";

    /** PyTorch's intra-op threads; 0 keeps PyTorch's default (all cores). */
    private int threads;

    /** INT4's group size: 32, 64 (default), 128 or 256. */
    private int groupSize = 64;

    /** With quantize none: a quantized model's values dequantized to the precision instead of loading as stored. */
    private boolean dequantize;

    /** LoRA adapters in PEFT's format, by name: medqa.lora.cardio=/models/cardio-adapter. A call's model name picks one. */
    private Map<String, Path> lora = new LinkedHashMap<>();

    /** Rows decoded together by the chat model's batching engine. */
    private int maxBatch = 8;

    /** Calls that may wait for a row before new ones are refused. */
    private int maxQueue = 1024;

    /** The base model's name in chat options, responses and observations. */
    private String modelName = "medqa";

    /** Default answer length in tokens when a call does not set max tokens. */
    private int maxNewTokens = 150;

    /** Default sampling temperature when a call does not set one; 0 decodes greedily. */
    private double temperature = 0.7;

    /** Default nucleus (top-p) when a call does not set one. */
    private double topP = 0.95;

    /** Default sampling seed (unset: a fresh one per call). */
    private Long seed;

    /**
     * ChatClient's entity(...) through MedQA's constrained decoding (the JSON schema enforced while
     * decoding, so the answer parses) instead of format instructions in the prompt. Default true.
     */
    private boolean nativeStructuredOutput = true;

    public String getModel() {
        return model;
    }

    public void setModel(String model) {
        this.model = model;
    }

    public String getQuantize() {
        return quantize;
    }

    public void setQuantize(String quantize) {
        this.quantize = quantize;
    }

    public String getPrecision() {
        return precision;
    }

    public void setPrecision(String precision) {
        this.precision = precision;
    }

    public String getDevice() {
        return device;
    }

    public void setDevice(String device) {
        this.device = device;
    }

    public int getThreads() {
        return threads;
    }

    public void setThreads(int threads) {
        this.threads = threads;
    }

    public int getGroupSize() {
        return groupSize;
    }

    public void setGroupSize(int groupSize) {
        this.groupSize = groupSize;
    }

    public boolean isDequantize() {
        return dequantize;
    }

    public void setDequantize(boolean dequantize) {
        this.dequantize = dequantize;
    }

    public Map<String, Path> getLora() {
        return lora;
    }

    public void setLora(Map<String, Path> lora) {
        this.lora = lora;
    }

    public int getMaxBatch() {
        return maxBatch;
    }

    public void setMaxBatch(int maxBatch) {
        this.maxBatch = maxBatch;
    }

    public int getMaxQueue() {
        return maxQueue;
    }

    public void setMaxQueue(int maxQueue) {
        this.maxQueue = maxQueue;
    }

    public String getModelName() {
        return modelName;
    }

    public void setModelName(String modelName) {
        this.modelName = modelName;
    }

    public int getMaxNewTokens() {
        return maxNewTokens;
    }

    public void setMaxNewTokens(int maxNewTokens) {
        this.maxNewTokens = maxNewTokens;
    }

    public double getTemperature() {
        return temperature;
    }

    public void setTemperature(double temperature) {
        this.temperature = temperature;
    }

    public double getTopP() {
        return topP;
    }

    public void setTopP(double topP) {
        this.topP = topP;
    }

    public Long getSeed() {
        return seed;
    }

    public void setSeed(Long seed) {
        this.seed = seed;
    }

    public boolean isNativeStructuredOutput() {
        return nativeStructuredOutput;
    }

    public void setNativeStructuredOutput(boolean nativeStructuredOutput) {
        this.nativeStructuredOutput = nativeStructuredOutput;
    }
}
