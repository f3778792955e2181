package ai.medqa.eval;

import ai.djl.ndarray.NDScope;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import ai.medqa.model.KvCache;
import ai.medqa.model.MistralModel;
import ai.medqa.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * lm-evaluation-harness's {@code pubmedqa} scoring: the summed log-probability of each answer
 * {@code " yes"}, {@code " no"}, {@code " maybe"} after the context
 * {@code "Abstract: " + contexts joined by "\n" + "\nQuestion: " + question + "\nAnswer:"}, with the
 * harness's pair encoding ({@code whole = encode(context + answer)}, {@code ctx = encode(context)},
 * continuation {@code = whole[len(ctx):]}, the model reads {@code ctx + continuation}).
 *
 * <p>The context is prefilled once and shared by the three answers: a one-token answer is scored from
 * the prefill's last logits; a longer one feeds its tokens through the cache, rewound to the
 * context between answers (the same numbers as a full prefill per answer, up to float rounding).
 * A context that leaves no room for the longest answer in {@code max_position_embeddings} loses
 * abstract sentences from the end, never the question; {@link Scored#truncated} counts them.
 */
public final class LikelihoodScorer {
    /** The answers in the harness's order. */
    public static final List<String> LABELS = List.of("yes", "no", "maybe");

    private final MistralModel model;
    private final Tokenizer tokenizer;
    private final boolean bos;

    /** @param bos encode with the tokenizer's special tokens (BOS), as its tokenizer_config says */
    public LikelihoodScorer(MistralModel model, Tokenizer tokenizer, boolean bos) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.bos = bos;
    }

    /**
     * The harness's context for {@code item}, with its first {@code contexts} abstract sections; with
     * {@code withAbstract} false (a configuration without contexts) only the question and answer cue.
     */
    static String context(PubMedQaItem item, int contexts, boolean withAbstract, String template) {
        String t = template != null ? template : withAbstract ? HARNESS_TEMPLATE : "Question: {question}\nAnswer:";
        return Prompts.render(
                t,
                item.question(),
                withAbstract ? String.join("\n", item.contexts().subList(0, contexts)) : "");
    }

    /** lm-evaluation-harness's pubmedqa prompt. */
    public static final String HARNESS_TEMPLATE = "Abstract: {context}\nQuestion: {question}\nAnswer:";

    /** Log-likelihood per label, and how many abstract sections were left out to fit. */
    public record Scored(Map<String, Double> loglikelihood, int truncated, int contextTokens) {
        /** The label of the highest log-likelihood (the first on ties, as the harness's argmax). */
        public String prediction() {
            String best = null;
            for (String label : LABELS) {
                if (best == null || loglikelihood.get(label) > loglikelihood.get(best)) {
                    best = label;
                }
            }
            return best;
        }
    }

    public Scored score(PubMedQaItem item) {
        return score(item, true);
    }

    /** As {@link #score(PubMedQaItem)}, without the abstract when {@code withAbstract} is false. */
    public Scored score(PubMedQaItem item, boolean withAbstract) {
        return score(item, withAbstract, null);
    }

    /** As {@link #score(PubMedQaItem, boolean)}, the context written by {@code template} (null: the harness's). */
    public Scored score(PubMedQaItem item, boolean withAbstract, String template) {
        return score(item, withAbstract, template, null);
    }

    /**
     * As {@link #score(PubMedQaItem, boolean, String)}, after {@code systemPrompt} and a blank line
     * when it is not null (a likelihood configuration's system prompt).
     */
    public Scored score(PubMedQaItem item, boolean withAbstract, String template, String systemPrompt) {
        int sections = withAbstract ? item.contexts().size() : 0;
        while (true) {
            String context = (systemPrompt == null ? "" : systemPrompt + "\n\n")
                    + context(item, sections, withAbstract, template);
            int[] ctx = tokenizer.encode(context, bos);
            int[][] continuations = new int[LABELS.size()][];
            int longest = 0;
            for (int i = 0; i < LABELS.size(); i++) {
                int[] whole = tokenizer.encode(context + " " + LABELS.get(i), bos);
                continuations[i] = Arrays.copyOfRange(whole, Math.min(ctx.length, whole.length), whole.length);
                longest = Math.max(longest, continuations[i].length);
            }
            if (ctx.length + longest <= model.config().maxPositionEmbeddings() || sections == 0) {
                if (ctx.length + longest > model.config().maxPositionEmbeddings()) {
                    throw new IllegalArgumentException("PMID " + item.pmid() + ": the question alone takes "
                            + ctx.length + " tokens; max_position_embeddings is "
                            + model.config().maxPositionEmbeddings());
                }
                return new Scored(
                        score(ctx, continuations),
                        withAbstract ? item.contexts().size() - sections : 0,
                        ctx.length);
            }
            sections--;
        }
    }

    private Map<String, Double> score(int[] ctx, int[][] continuations) {
        int longest = Arrays.stream(continuations).mapToInt(c -> c.length).max().orElse(0);
        Map<String, Double> out = new LinkedHashMap<>();
        try (KvCache cache = model.newCache(ctx.length + longest)) {
            float[] last;
            try (NDScope scope = new NDScope()) {
                last = model.forward(new int[][] {ctx}, cache, false).toFloatArray();
            }
            for (int i = 0; i < continuations.length; i++) {
                int[] cont = continuations[i];
                double ll = 0;
                float[] logits = last;
                cache.rewind(ctx.length);
                for (int t = 0; t < cont.length; t++) {
                    ll += logSoftmax(logits, cont[t]);
                    if (t + 1 < cont.length) {
                        try (NDScope scope = new NDScope()) {
                            logits = model.forward(new int[][] {{cont[t]}}, cache, false)
                                    .toFloatArray();
                        }
                    }
                }
                out.put(LABELS.get(i), ll);
            }
        }
        return out;
    }

    /** {@code log_softmax(logits)[token]}, accumulated in double. */
    static double logSoftmax(float[] logits, int token) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        return logits[token] - max - Math.log(sum);
    }
}
