package ai.medqa.generate;

import java.util.ArrayList;
import java.util.List;

/**
 * The processors a {@link GenerationConfig} asks for, in the order transformers' {@code generate()}
 * applies them (transformers 5.18 {@code _get_logits_processor}): repetition penalty first (it applies
 * to greedy decoding too), then, only when sampling, temperature, top-k, top-p and min-p. A knob at its
 * neutral value (penalty 1, temperature 1, top-k 0, top-p 1, min-p unset) adds no processor, as there.
 */
final class LogitsProcessorChain implements LogitsProcessor {
    /** generate() keeps at least one token when not doing beam search. */
    static final int MIN_TOKENS_TO_KEEP = 1;

    private final List<LogitsProcessor> processors;

    private LogitsProcessorChain(List<LogitsProcessor> processors) {
        this.processors = List.copyOf(processors);
    }

    static LogitsProcessorChain of(GenerationConfig config) {
        List<LogitsProcessor> list = new ArrayList<>();
        if (config.repetitionPenalty() != 1.0) {
            list.add(new RepetitionPenaltyProcessor(config.repetitionPenalty()));
        }
        if (!config.isGreedy()) {
            if (config.temperature() != 1.0) {
                list.add(new TemperatureWarper(config.temperature()));
            }
            if (config.topK() != 0) {
                list.add(new TopKWarper(config.topK(), MIN_TOKENS_TO_KEEP));
            }
            if (config.topP() < 1.0) {
                list.add(new TopPWarper(config.topP(), MIN_TOKENS_TO_KEEP));
            }
            if (config.minP().isPresent()) {
                list.add(new MinPWarper(config.minP().getAsDouble(), MIN_TOKENS_TO_KEEP));
            }
        }
        return new LogitsProcessorChain(list);
    }

    List<LogitsProcessor> processors() {
        return processors;
    }

    @Override
    public void process(int[] prevIds, int prevLen, float[] logits) {
        for (LogitsProcessor p : processors) {
            p.process(prevIds, prevLen, logits);
        }
    }
}
