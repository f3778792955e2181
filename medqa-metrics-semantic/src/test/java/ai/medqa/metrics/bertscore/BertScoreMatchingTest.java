package ai.medqa.metrics.bertscore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Greedy matching, idf weights and rescaling on hand-made embeddings whose answers are known. */
class BertScoreMatchingTest {
    private static final double R2 = Math.sqrt(0.5);

    // Special tokens at e4, orthogonal to every word: they can be matched (as in bert-score) but
    // contribute nothing, and carry weight 0. Words are deliberately not unit length.
    private static final float[][] CANDIDATE = {
        {0, 0, 0, 1}, // [CLS]
        {2, 0, 0, 0}, // e1
        {1, 1, 0, 0}, // (e1 + e2) / sqrt 2
        {0, 0, 3, 0}, // e3: nothing like it in the reference
        {0, 0, 0, 5}, // [SEP]
    };
    private static final float[][] REFERENCE = {
        {0, 0, 0, 1}, // [CLS]
        {0.5f, 0, 0, 0}, // e1
        {0, 7, 0, 0}, // e2
        {0, 0, 0, 1}, // [SEP]
    };

    @Test
    void uniformWeightsGiveTheHandComputedScores() {
        BertScore.Score s =
                BertScore.greedy(CANDIDATE, new double[] {0, 1, 1, 1, 0}, REFERENCE, new double[] {0, 1, 1, 0});
        // Candidate words' best matches: e1 -> 1, (e1+e2)/sqrt2 -> 1/sqrt2, e3 -> 0 (the specials, at 0).
        double p = (1 + R2 + 0) / 3;
        // Reference words' best matches: e1 -> 1, e2 -> 1/sqrt2.
        double r = (1 + R2) / 2;
        assertThat(s.precision()).isCloseTo(p, within(1e-6));
        assertThat(s.recall()).isCloseTo(r, within(1e-6));
        assertThat(s.f1()).isCloseTo(2 * p * r / (p + r), within(1e-6));
    }

    @Test
    void weightsScaleEachTokensContribution() {
        BertScore.Score s =
                BertScore.greedy(CANDIDATE, new double[] {0, 2, 1, 0.5, 0}, REFERENCE, new double[] {0, 3, 1, 0});
        double p = (2 * 1 + 1 * R2 + 0.5 * 0) / 3.5;
        double r = (3 * 1 + 1 * R2) / 4;
        assertThat(s.precision()).isCloseTo(p, within(1e-6));
        assertThat(s.recall()).isCloseTo(r, within(1e-6));
        assertThat(s.f1()).isCloseTo(2 * p * r / (p + r), within(1e-6));
    }

    @Test
    void specialTokensAreMatchableButCarryNoWeight() {
        // A candidate word pointing at e4 finds the reference's [CLS] (bert-score keeps specials in
        // the similarity matrix), while the candidate's own specials add nothing.
        float[][] candidate = {{0, 0, 0, 1}, {0, 0, 0, 2}, {0, 0, 0, 1}};
        float[][] reference = {{0, 0, 0, 1}, {1, 0, 0, 0}, {0, 0, 0, 1}};
        BertScore.Score s = BertScore.greedy(candidate, new double[] {0, 1, 0}, reference, new double[] {0, 1, 0});
        assertThat(s.precision()).isCloseTo(1.0, within(1e-6));
        assertThat(s.recall()).isCloseTo(0.0, within(1e-6));
        assertThat(s.f1()).isCloseTo(0.0, within(1e-6));
    }

    @Test
    void randomEmbeddingsEqualABruteForceReference() {
        Random random = new Random(5);
        for (int trial = 0; trial < 20; trial++) {
            float[][] c = random(random, 3 + random.nextInt(12), 16);
            float[][] r = random(random, 3 + random.nextInt(12), 16);
            double[] wc = weights(random, c.length);
            double[] wr = weights(random, r.length);
            BertScore.Score s = BertScore.greedy(c, wc, r, wr);
            double p = reference(c, wc, r);
            double rec = reference(r, wr, c);
            assertThat(s.precision()).isCloseTo(p, within(1e-6));
            assertThat(s.recall()).isCloseTo(rec, within(1e-6));
            assertThat(s.f1()).isCloseTo(2 * p * rec / (p + rec), within(1e-6));
        }
    }

    @Test
    void emptyTextsScoreZero() {
        float[][] onlySpecials = {{0, 0, 0, 1}, {0, 0, 0, 1}};
        assertThat(BertScore.greedy(onlySpecials, new double[] {0, 0}, REFERENCE, new double[] {0, 1, 1, 0}))
                .isEqualTo(new BertScore.Score(0, 0, 0));
        assertThat(BertScore.greedy(CANDIDATE, new double[] {0, 1, 1, 1, 0}, onlySpecials, new double[] {0, 0}))
                .isEqualTo(new BertScore.Score(0, 0, 0));
    }

    @Test
    void idfCountsEachReferenceOnceAndZeroesSpecials() {
        int cls = 101;
        int sep = 102;
        List<int[]> refs = List.of(new int[] {cls, 5, 6, sep}, new int[] {cls, 5, 7, 7, sep}, new int[] {cls, 8, sep});
        Map<Integer, Double> idf = BertScore.idf(refs, cls, sep);
        // M = 3: idf = log((M + 1) / (df + 1)).
        assertThat(idf.get(5)).isCloseTo(Math.log(4.0 / 3), within(1e-12));
        assertThat(idf.get(6)).isCloseTo(Math.log(4.0 / 2), within(1e-12));
        assertThat(idf.get(7)).isCloseTo(Math.log(4.0 / 2), within(1e-12)); // twice in one reference: df 1
        assertThat(idf.get(8)).isCloseTo(Math.log(4.0 / 2), within(1e-12));
        assertThat(idf.get(cls)).isZero();
        assertThat(idf.get(sep)).isZero();
        assertThat(idf).doesNotContainKey(9); // unseen ids take log(M + 1) at scoring time
    }

    @Test
    void baselineRowOfTheLayerRescales(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("baseline.tsv");
        Files.writeString(file, "LAYER,P,R,F\n0,0.1,0.2,0.3\n1,0.8,0.82,0.81\n");
        double[] b = BertScore.readBaseline(file, 1);
        assertThat(b).containsExactly(0.8, 0.82, 0.81);
        BertScore.Score s = BertScore.rescale(new BertScore.Score(0.9, 0.91, 0.905), b);
        assertThat(s.precision()).isCloseTo((0.9 - 0.8) / 0.2, within(1e-12));
        assertThat(s.recall()).isCloseTo((0.91 - 0.82) / 0.18, within(1e-12));
        assertThat(s.f1()).isCloseTo((0.905 - 0.81) / 0.19, within(1e-12));
        assertThatThrownBy(() -> BertScore.readBaseline(file, 7)).hasMessageContaining("no row for layer 7");
    }

    @Test
    void defaultLayersAreBertScores() {
        assertThat(BertScore.defaultLayer("bert-base-uncased")).hasValue(9);
        assertThat(BertScore.defaultLayer("roberta-large")).hasValue(17);
        assertThat(BertScore.defaultLayer("/models/roberta-large")).hasValue(17);
        assertThat(BertScore.defaultLayer("sentence-transformers/all-MiniLM-L6-v2"))
                .hasValue(5);
        assertThat(BertScore.defaultLayer("my-own-bert")).isEmpty();
    }

    /** Written from the definition, independently: cosine via norms, in double, max then weighted mean. */
    private static double reference(float[][] from, double[] weights, float[][] to) {
        double sum = 0;
        double total = 0;
        for (int i = 0; i < from.length; i++) {
            double best = -2;
            for (float[] t : to) {
                double dot = 0;
                double na = 0;
                double nb = 0;
                for (int k = 0; k < t.length; k++) {
                    dot += from[i][k] * t[k];
                    na += from[i][k] * from[i][k];
                    nb += t[k] * t[k];
                }
                best = Math.max(best, dot / Math.sqrt(na * nb));
            }
            sum += weights[i] * best;
            total += weights[i];
        }
        return sum / total;
    }

    private static float[][] random(Random random, int n, int d) {
        float[][] v = new float[n][d];
        for (float[] row : v) {
            for (int k = 0; k < d; k++) {
                row[k] = (float) random.nextGaussian();
            }
        }
        return v;
    }

    private static double[] weights(Random random, int n) {
        double[] w = new double[n];
        for (int i = 1; i < n - 1; i++) {
            w[i] = random.nextDouble() * 3;
        }
        return w;
    }
}
