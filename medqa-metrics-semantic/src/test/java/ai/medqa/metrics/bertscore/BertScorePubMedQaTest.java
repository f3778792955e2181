package ai.medqa.metrics.bertscore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** BERTScore on real PubMedQA text with the offline MiniLM encoder. */
class BertScorePubMedQaTest {
    private static BertEncoder encoder;

    @BeforeAll
    static void load() {
        encoder = BertEncoder.miniLm();
    }

    @AfterAll
    static void close() {
        encoder.close();
    }

    /**
     * For 200 PubMedQA questions: the long answer (reference) against its own abstract's closing
     * sentence (the candidate shared/golden builds) versus the next question's closing sentence.
     * SQuAD token F1 ranks these pairs right 80% of the time (set F1: 76%). MiniLM at its default
     * layer 5: 84.0% (idf 84.5%); at layer 4: 83.0% (85.5%); at its last layer 6: 92.0% (91.5%). Each text is encoded once
     * and scored through the same pieces as {@link BertScore#score} (the next test shows they agree).
     */
    @Test
    void ownConclusionBeatsAnotherQuestionsFor80PercentOf200Pairs() throws Exception {
        List<TestData.Pair> pairs = TestData.pairs();
        assertThat(pairs).hasSize(200);
        int n = pairs.size();
        List<String> texts = new ArrayList<>();
        for (TestData.Pair p : pairs) {
            texts.add(p.conclusion());
            texts.add(p.longAnswer());
        }
        int layer = BertScore.builder(encoder).build().layer();
        List<TokenEmbeddings> encoded = encoder.encode(texts, layer, 32);
        List<int[]> refIds = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            refIds.add(encoded.get(2 * i + 1).ids());
        }
        Map<Integer, Double> idf = BertScore.idf(refIds, encoder.clsId(), encoder.sepId());
        for (boolean useIdf : new boolean[] {false, true}) {
            int wins = 0;
            for (int i = 0; i < n; i++) {
                TokenEmbeddings ref = encoded.get(2 * i + 1);
                double own = f1(encoded.get(2 * i), ref, useIdf, idf, n);
                double other = f1(encoded.get(2 * ((i + 1) % n)), ref, useIdf, idf, n);
                if (own > other) {
                    wins++;
                }
            }
            double rate = wins / (double) n;
            System.err.printf(
                    "BERTScore F1 (MiniLM layer %d, idf %s): own conclusion wins %d/%d = %.1f%%%n",
                    layer, useIdf, wins, n, 100 * rate);
            assertThat(rate).isGreaterThanOrEqualTo(0.8);
        }
    }

    private double f1(TokenEmbeddings cand, TokenEmbeddings ref, boolean useIdf, Map<Integer, Double> idf, int m) {
        double[] wc = useIdf ? weights(cand.ids(), idf, m) : uniform(cand.ids());
        double[] wr = useIdf ? weights(ref.ids(), idf, m) : uniform(ref.ids());
        return BertScore.greedy(cand.vectors(), wc, ref.vectors(), wr).f1();
    }

    private static double[] uniform(int[] ids) {
        double[] w = new double[ids.length];
        java.util.Arrays.fill(w, 1, ids.length - 1, 1.0); // [CLS] first and [SEP] last weigh 0
        return w;
    }

    @Test
    void idfScoresEqualGreedyMatchingWithWeightsFromTheReferences() throws Exception {
        List<TestData.Pair> pairs = TestData.pairs().subList(0, 6);
        List<String> cands = pairs.stream().map(TestData.Pair::conclusion).toList();
        List<String> refs = pairs.stream().map(TestData.Pair::longAnswer).toList();
        BertScore scorer = BertScore.builder(encoder).idf(true).batchSize(4).build();
        List<BertScore.Score> got = scorer.score(cands, refs);

        List<int[]> refIds = refs.stream().map(encoder::tokenize).toList();
        Map<Integer, Double> idf = BertScore.idf(refIds, encoder.clsId(), encoder.sepId());
        for (int i = 0; i < cands.size(); i++) {
            TokenEmbeddings c = encoder.encode(List.of(cands.get(i)), 5, 1).get(0);
            TokenEmbeddings r = encoder.encode(List.of(refs.get(i)), 5, 1).get(0);
            BertScore.Score expected = BertScore.greedy(
                    c.vectors(), weights(c.ids(), idf, refs.size()), r.vectors(), weights(r.ids(), idf, refs.size()));
            assertThat(got.get(i).precision()).isCloseTo(expected.precision(), within(1e-5));
            assertThat(got.get(i).recall()).isCloseTo(expected.recall(), within(1e-5));
            assertThat(got.get(i).f1()).isCloseTo(expected.f1(), within(1e-5));
        }
        // Without idf too, through score(): a text against itself matches every token exactly. (With
        // idf a single reference weighs all its tokens log(2/2) = 0, as in bert-score.)
        List<BertScore.Score> plain =
                BertScore.builder(encoder).batchSize(4).build().score(cands, refs);
        for (int i = 0; i < cands.size(); i++) {
            TokenEmbeddings c = encoder.encode(List.of(cands.get(i)), 5, 1).get(0);
            TokenEmbeddings r = encoder.encode(List.of(refs.get(i)), 5, 1).get(0);
            BertScore.Score expected = BertScore.greedy(c.vectors(), uniform(c.ids()), r.vectors(), uniform(r.ids()));
            assertThat(plain.get(i).f1()).isCloseTo(expected.f1(), within(1e-5));
        }
        BertScore.Score self = BertScore.builder(encoder).build().score(refs.get(0), refs.get(0));
        assertThat(self.f1()).isCloseTo(1.0, within(1e-5));
    }

    @Test
    void textsOver512WordPiecesAreTruncatedWithAWarning() throws Exception {
        String paragraph = TestData.sentences().get(TestData.sentences().size() - 1);
        String longText = (paragraph + " ").repeat(4);
        int full = encoder.tokenize(longText).length;
        assertThat(full).isGreaterThan(600);

        PrintStream saved = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        List<TokenEmbeddings> encoded;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            encoded = encoder.encode(List.of("A short sentence.", longText), encoder.numLayers(), 2);
        } finally {
            System.setErr(saved);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        assertThat(log)
                .contains("WARN")
                .contains("1 of 2 texts are longer than")
                .contains("512 positions")
                .contains("longest " + full + " word pieces");
        TokenEmbeddings cut = encoded.get(1);
        assertThat(cut.ids()).hasSize(512);
        assertThat(cut.vectors()).hasNumberOfRows(512);
        assertThat(cut.ids()[511]).isEqualTo(encoder.sepId());
        assertThat(cut.droppedTokens()).isEqualTo(full - 512);
        assertThat(encoded.get(0).droppedTokens()).isZero();
    }

    private static double[] weights(int[] ids, Map<Integer, Double> idf, int m) {
        double[] w = new double[ids.length];
        for (int i = 0; i < ids.length; i++) {
            w[i] = idf.getOrDefault(ids[i], Math.log(m + 1.0));
        }
        return w;
    }
}
