package ai.medqa.spark;

import ai.medqa.generate.GenerationConfig;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashSet;

/** A {@link GenerationConfig} in a form Spark can ship to executors (every setting, none lost). */
record SamplingSpec(
        boolean doSample,
        double temperature,
        int topK,
        double topP,
        Double minP,
        double repetitionPenalty,
        int maxNewTokens,
        ArrayList<Integer> eosTokenIds,
        ArrayList<String> stopStrings,
        Long seed)
        implements Serializable {
    private static final long serialVersionUID = 1L;

    static SamplingSpec of(GenerationConfig g) {
        if (g == null) {
            return null;
        }
        return new SamplingSpec(
                g.doSample(),
                g.temperature(),
                g.topK(),
                g.topP(),
                g.minP().isPresent() ? g.minP().getAsDouble() : null,
                g.repetitionPenalty(),
                g.maxNewTokens(),
                g.eosTokenIds().map(ArrayList::new).orElse(null),
                new ArrayList<>(g.stopStrings()),
                g.seed().isPresent() ? g.seed().getAsLong() : null);
    }

    GenerationConfig toConfig() {
        GenerationConfig.Builder b = GenerationConfig.builder()
                .doSample(doSample)
                .temperature(temperature)
                .topK(topK)
                .topP(topP)
                .repetitionPenalty(repetitionPenalty)
                .maxNewTokens(maxNewTokens)
                .stopStrings(stopStrings);
        if (minP != null) {
            b.minP(minP);
        }
        if (eosTokenIds != null) {
            b.eosTokenIds(new LinkedHashSet<>(eosTokenIds));
        }
        if (seed != null) {
            b.seed(seed);
        }
        return b.build();
    }
}
