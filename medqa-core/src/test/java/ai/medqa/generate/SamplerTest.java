package ai.medqa.generate;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SamplerTest {

    // ------------------------------------------------------------------ fast path == full-sort path

    /** Logits of the kinds a model produces, and the ones that stress the boundaries. */
    static float[] logits(Random r, int n, int kind) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            switch (kind) {
                case 0:
                    x[i] = (float) (r.nextGaussian() * 2);
                    break; // normal
                case 1:
                    x[i] = (float) (r.nextGaussian() * 8);
                    break; // wide
                case 2:
                    x[i] = bf16((float) (r.nextGaussian() * 3));
                    break; // bf16 model: many ties
                case 3:
                    x[i] = Math.round(r.nextGaussian() * 4) / 2f;
                    break; // 0.5 grid: ties everywhere
                default:
                    x[i] = 0f;
                    break; // flat
            }
        }
        int peaks = kind == 4 ? 5 : 1 + r.nextInt(4);
        for (int p = 0; p < peaks; p++) {
            x[r.nextInt(n)] += kind == 4 ? 3f : (float) (4 + r.nextInt(12));
        }
        return x;
    }

    /** A Mistral checkpoint is bf16: its logits carry 8 bits of mantissa. */
    static float bf16(float f) {
        return Float.intBitsToFloat(Float.floatToIntBits(f) & 0xffff0000);
    }

    static List<GenerationConfig> configs(long seed) {
        List<GenerationConfig> out = new ArrayList<>();
        for (int topK : new int[] {0, 50, 5}) {
            for (double topP : new double[] {1.0, 0.95, 0.9, 0.8, 0.3}) {
                for (double temperature : new double[] {0.7, 1.0, 1.3}) {
                    for (boolean minP : new boolean[] {false, true}) {
                        GenerationConfig.Builder b = GenerationConfig.builder()
                                .doSample(true)
                                .topK(topK)
                                .topP(topP)
                                .temperature(temperature)
                                .repetitionPenalty(temperature == 1.0 ? 1.0 : 1.2)
                                .seed(seed);
                        if (minP) {
                            b.minP(0.05);
                        }
                        out.add(b.build());
                    }
                }
            }
        }
        return out;
    }

    @Test
    void fastPathKeepsTheSameTokensAndDrawsTheSameIdsAsTheFullSort() {
        Random r = new Random(20240611);
        int checked = 0;
        int[] fallbacks32k = new int[5];
        int[] calls32k = new int[5];
        for (int n : new int[] {7, 100, 1000, 32000}) {
            int inputs = n == 32000 ? 4 : 40;
            for (int t = 0; t < inputs; t++) {
                float[] x = logits(r, n, t % 5);
                int[] prev = new int[40];
                for (int i = 0; i < prev.length; i++) {
                    prev[i] = i % 4 == 0 ? Sampler.argmax(x) : r.nextInt(n);
                }
                for (GenerationConfig c : configs(t)) {
                    FastSampler fast = (FastSampler) Sampler.create(c);
                    Sampler base = Sampler.fullSortBaseline(c);
                    String what = "n=" + n + " kind=" + (t % 5) + " " + c;
                    assertThat(fast.keptIds(prev, prev.length, x.clone()))
                            .as(what)
                            .isEqualTo(base.keptIds(prev, prev.length, x.clone()));
                    for (int d = 0; d < 3; d++) {
                        assertThat(fast.sample(prev, prev.length, x.clone()))
                                .as(what + " draw " + d)
                                .isEqualTo(base.sample(prev, prev.length, x.clone()));
                    }
                    if (n == 32000 && c.topP() < 1) {
                        fallbacks32k[t % 5] += fast.fallbacks();
                        calls32k[t % 5] += 4;
                    }
                    checked++;
                }
            }
        }
        System.out.printf(
                "fast vs full-sort: %d (input, config) pairs identical; top-p calls at n=32000 that fell"
                        + " back to the full sort, by kind normal/wide/bf16/grid/flat: %s of %s%n",
                checked, Arrays.toString(fallbacks32k), Arrays.toString(calls32k));
    }

    /**
     * Logits a constraint masked (all but a few -inf, fewer than top_k left): the fast path keeps and
     * draws what the full sort does, and never falls back to sorting the vocabulary.
     */
    @Test
    void maskedLogitsKeepTheFastPath() {
        Random r = new Random(7);
        for (int allowed : new int[] {1, 3, 40, 2000}) {
            float[] x = logits(r, 32000, 0);
            boolean[] keep = new boolean[x.length];
            for (int i = 0; i < allowed; i++) {
                keep[r.nextInt(x.length)] = true;
            }
            for (int i = 0; i < x.length; i++) {
                x[i] = keep[i] ? x[i] : Float.NEGATIVE_INFINITY;
            }
            int[] prev = {1, 2, 3};
            for (GenerationConfig c : List.of(
                    GenerationConfig.builder()
                            .doSample(true)
                            .topK(50)
                            .topP(0.95)
                            .seed(3)
                            .build(),
                    GenerationConfig.builder()
                            .doSample(true)
                            .topK(0)
                            .topP(0.9)
                            .temperature(0.7)
                            .seed(4)
                            .build())) {
                FastSampler fast = (FastSampler) Sampler.create(c);
                Sampler base = Sampler.fullSortBaseline(c);
                assertThat(fast.keptIds(prev, prev.length, x.clone()))
                        .as(allowed + " " + c)
                        .isEqualTo(base.keptIds(prev, prev.length, x.clone()));
                for (int d = 0; d < 5; d++) {
                    int id = fast.sample(prev, prev.length, x.clone());
                    assertThat(id).isEqualTo(base.sample(prev, prev.length, x.clone()));
                    assertThat(keep[id]).isTrue();
                    assertThat(fast.lastSorted())
                            .as("candidates sorted, %d allowed", allowed)
                            .isLessThanOrEqualTo(allowed);
                }
                assertThat(fast.fallbacks())
                        .as("full sorts, %d allowed, %s", allowed, c)
                        .isZero();
            }
        }
    }

    @Test
    void fastPathUsuallyAvoidsTheFullSortOnAModelSizedVocabulary() {
        Random r = new Random(5);
        GenerationConfig c = GenerationConfig.builder()
                .doSample(true)
                .topK(0)
                .topP(0.9)
                .temperature(0.7)
                .repetitionPenalty(1.2)
                .seed(1)
                .build();
        FastSampler fast = (FastSampler) Sampler.create(c);
        int[] prev = {1, 2, 3};
        for (int t = 0; t < 50; t++) {
            fast.sample(prev, prev.length, logits(r, 32000, 0));
        }
        assertThat(fast.fallbacks()).isLessThan(5);
    }

    // ------------------------------------------------------------------ reproducibility

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        Random r = new Random(3);
        float[] x = logits(r, 1000, 0);
        GenerationConfig c = GenerationConfig.builder()
                .doSample(true)
                .temperature(1.5)
                .topK(0)
                .topP(0.95)
                .seed(77)
                .build();
        int[] a = draws(Sampler.create(c), x, 500);
        int[] b = draws(Sampler.create(c), x, 500);
        int[] other = draws(Sampler.create(c.toBuilder().seed(78).build()), x, 500);
        assertThat(a).isEqualTo(b);
        assertThat(a).isNotEqualTo(other);
        assertThat(Arrays.stream(a).distinct().count()).isGreaterThan(5); // really sampling
        Sampler random = Sampler.create(c.toBuilder().clearSeed().build());
        assertThat(draws(Sampler.create(c.toBuilder().seed(random.seed()).build()), x, 100))
                .isEqualTo(draws(random, x, 100)); // a random seed is reported and replays the run
    }

    private static int[] draws(Sampler s, float[] x, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = s.sample(new int[0], 0, x.clone());
        }
        return out;
    }

    // ------------------------------------------------------------------ distribution

    /**
     * 20,000 draws with a fixed seed against the filtered, tempered softmax (transformers' chain, which the
     * golden test pins down): Pearson's chi-square at significance 0.001, p-value from the regularized
     * upper incomplete gamma function.
     */
    @Test
    void drawsFollowTheFilteredTemperedSoftmax() {
        Random r = new Random(11);
        int n = 30;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        int[] prev = {0, 1, 2, 2};
        GenerationConfig c = GenerationConfig.builder()
                .doSample(true)
                .temperature(0.8)
                .topK(25)
                .topP(0.97)
                .minP(0.02)
                .repetitionPenalty(1.2)
                .seed(20240611)
                .build();
        float[] filtered = x.clone();
        LogitsProcessorChain.of(c).process(prev, prev.length, filtered);
        float[] p = Softmax.probs(filtered);

        int draws = 20_000;
        int[] counts = new int[n];
        Sampler s = Sampler.create(c);
        for (int i = 0; i < draws; i++) {
            counts[s.sample(prev, prev.length, x.clone())]++;
        }
        double chi2 = 0;
        int cells = 0;
        double pooledExpected = 0;
        int pooledCount = 0;
        int categories = 0;
        for (int i = 0; i < n; i++) {
            double expected = p[i] * (double) draws;
            if (p[i] == 0) {
                assertThat(counts[i]).as("filtered token %d drawn", i).isZero();
                continue;
            }
            categories++;
            if (expected < 5) { // pool the rare ones, the usual validity rule for Pearson's test
                pooledExpected += expected;
                pooledCount += counts[i];
                continue;
            }
            chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
            cells++;
        }
        if (pooledExpected > 0) {
            chi2 += (pooledCount - pooledExpected) * (pooledCount - pooledExpected) / pooledExpected;
            cells++;
        }
        int df = cells - 1;
        double pValue = chiSquareSurvival(chi2, df);
        System.out.printf(
                "chi-square: %d categories kept of %d, %d cells, df=%d, chi2=%.2f, p=%.3f%n",
                categories, n, cells, df, chi2, pValue);
        assertThat(categories).isBetween(15, 25);
        assertThat(pValue).as("chi2=%.2f df=%d", chi2, df).isGreaterThan(0.001);

        // and the test can fail: the unfiltered softmax is rejected
        float[] unfiltered = Softmax.probs(x);
        double chi2Wrong = 0;
        for (int i = 0; i < n; i++) {
            double expected = unfiltered[i] * (double) draws;
            chi2Wrong += (counts[i] - expected) * (counts[i] - expected) / expected;
        }
        assertThat(chiSquareSurvival(chi2Wrong, n - 1)).isLessThan(1e-6);
    }

    @Test
    void chiSquareSurvivalMatchesTables() {
        // critical values at 0.001 (standard tables): df 1 -> 10.828, df 10 -> 29.588, df 19 -> 43.820
        assertThat(chiSquareSurvival(10.828, 1)).isCloseTo(0.001, org.assertj.core.data.Offset.offset(2e-6));
        assertThat(chiSquareSurvival(29.588, 10)).isCloseTo(0.001, org.assertj.core.data.Offset.offset(2e-6));
        assertThat(chiSquareSurvival(43.820, 19)).isCloseTo(0.001, org.assertj.core.data.Offset.offset(2e-6));
        assertThat(chiSquareSurvival(18.338, 19)).isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-3));
    }

    /** P(X > chi2) for X ~ chi-square(df) = Q(df/2, chi2/2), the regularized upper incomplete gamma. */
    static double chiSquareSurvival(double chi2, int df) {
        double a = df / 2.0;
        double x = chi2 / 2.0;
        if (x <= 0) {
            return 1;
        }
        if (x < a + 1) { // series for P
            double term = 1 / a;
            double sum = term;
            for (int k = 1; k < 1000; k++) {
                term *= x / (a + k);
                sum += term;
                if (term < sum * 1e-16) {
                    break;
                }
            }
            return 1 - sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
        }
        // continued fraction for Q (modified Lentz)
        double b = x + 1 - a;
        double cc = 1 / 1e-300;
        double d = 1 / b;
        double h = d;
        for (int i = 1; i < 1000; i++) {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b;
            d = Math.abs(d) < 1e-300 ? 1e-300 : d;
            cc = b + an / cc;
            cc = Math.abs(cc) < 1e-300 ? 1e-300 : cc;
            d = 1 / d;
            double delta = d * cc;
            h *= delta;
            if (Math.abs(delta - 1) < 1e-16) {
                break;
            }
        }
        return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
    }

    /** Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for a > 0. */
    static double logGamma(double a) {
        double[] c = {
            0.99999999999980993,
            676.5203681218851,
            -1259.1392167224028,
            771.32342877765313,
            -176.61502916214059,
            12.507343278686905,
            -0.13857109526572012,
            9.9843695780195716e-6,
            1.5056327351493116e-7
        };
        double z = a - 1;
        double s = c[0];
        for (int i = 1; i < 9; i++) {
            s += c[i] / (z + i);
        }
        double t = z + 7.5;
        return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
    }
}
