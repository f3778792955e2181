package ai.medqa.metrics.lexical;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The standard set of lexical scores for one candidate against one or more references, under the
 * field names of the project's golden file {@code metrics_pubmedqa_shared.jsonl}:
 * {@code bleu_m0/m1/m2/m4} (nltk sentence BLEU on {@code lower().split()} tokens), {@code squad_f1},
 * {@code set_f1}, and {@code rouge{1,2,L,Lsum}_{p,r,f}} without and with ({@code _stem}) stemming.
 *
 * <p>With several references: nltk BLEU uses them all (clipping and closest length), F1 takes
 * the maximum, ROUGE takes rouge-score's {@code score_multi} (the best F per type). Thread-safe.
 */
public final class PairScorer {
    private static final NltkBleu.Smoothing[] BLEU_METHODS = {
        NltkBleu.Smoothing.METHOD0, NltkBleu.Smoothing.METHOD1,
        NltkBleu.Smoothing.METHOD2, NltkBleu.Smoothing.METHOD4,
    };
    private static final String[] BLEU_NAMES = {"bleu_m0", "bleu_m1", "bleu_m2", "bleu_m4"};

    private final NltkBleu[] bleu = new NltkBleu[BLEU_METHODS.length];
    private final Rouge rouge = Rouge.standard(false);
    private final Rouge rougeStem = Rouge.standard(true);

    public PairScorer() {
        for (int i = 0; i < BLEU_METHODS.length; i++) {
            bleu[i] = new NltkBleu(BLEU_METHODS[i]);
        }
    }

    /** Field names in output order. */
    public static List<String> fieldNames() {
        return List.copyOf(new PairScorer().score("x", List.of("x")).keySet());
    }

    public Map<String, Double> score(String candidate, String reference) {
        return score(candidate, List.of(reference));
    }

    public Map<String, Double> score(String candidate, List<String> references) {
        if (references.isEmpty()) {
            throw new IllegalArgumentException("at least one reference is needed");
        }
        Map<String, Double> out = new LinkedHashMap<>();
        for (int i = 0; i < bleu.length; i++) {
            out.put(BLEU_NAMES[i], bleu[i].sentence(candidate, references));
        }
        out.put("squad_f1", TokenF1.squadF1(candidate, references));
        out.put("set_f1", TokenF1.setF1(candidate, references));
        putRouge(out, rouge.scoreMulti(references, candidate), "");
        putRouge(out, rougeStem.scoreMulti(references, candidate), "_stem");
        return out;
    }

    private static void putRouge(Map<String, Double> out, Map<String, RougeScore> scores, String suffix) {
        for (Map.Entry<String, RougeScore> e : scores.entrySet()) {
            out.put(e.getKey() + "_p" + suffix, e.getValue().precision());
            out.put(e.getKey() + "_r" + suffix, e.getValue().recall());
            out.put(e.getKey() + "_f" + suffix, e.getValue().fmeasure());
        }
    }
}
