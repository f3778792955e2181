package ai.medqa.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Cases small enough to compute by hand: ties, the exact top-p boundary, the penalty's two signs. */
class LogitsProcessorsHandTest {
    private static final float NEG = Float.NEGATIVE_INFINITY;
    // float32(ln 0.5) and float32(ln 0.25): exp of them rounds to exactly 0.5 and 0.25
    private static final float LN_HALF = (float) Math.log(0.5);
    private static final float LN_QUARTER = (float) Math.log(0.25);

    @Test
    void exponentsOfTheseLogitsAreExact() {
        assertThat(Softmax.probs(new float[] {0f, LN_HALF, LN_QUARTER, LN_QUARTER}))
                .containsExactly(0.5f, 0.25f, 0.125f, 0.125f);
    }

    @Test
    void topKKeepsEveryTieOfTheKthValue() {
        float[] x = {1f, 3f, 3f, 2f, 3f, 0f};
        new TopKWarper(2, 1).process(new int[0], 0, x);
        assertThat(x).containsExactly(NEG, 3f, 3f, NEG, 3f, NEG);
    }

    @Test
    void topKLargerThanVocabularyKeepsAll() {
        float[] x = {1f, 2f};
        new TopKWarper(50, 1).process(new int[0], 0, x);
        assertThat(x).containsExactly(1f, 2f);
    }

    @Test
    void topPKeepsTokensWhoseProbabilitiesSumExactlyToTopP() {
        // probs 0.5, 0.25, 0.125, 0.125; top_p 0.75: ascending cumsum 0.125, 0.25 (<= 1 - 0.75: removed), 0.5, 1
        float[] x = {0f, LN_HALF, LN_QUARTER, LN_QUARTER};
        new TopPWarper(0.75, 1).process(new int[0], 0, x);
        assertThat(x).containsExactly(0f, LN_HALF, NEG, NEG);
        assertThat(keptFastAndBaseline(new float[] {0f, LN_HALF, LN_QUARTER, LN_QUARTER}, 0.75))
                .containsExactly(0, 1);
    }

    @Test
    void topPBoundaryInsideATieKeepsTorchsOrder() {
        // top_p 0.76: the second 0.125 has cumsum 0.25 > 0.24 and stays; which of the two equal logits goes
        // is torch's sort order (insertion sort below 17 elements: stable, so the lower id goes first)
        float[] x = {0f, LN_HALF, LN_QUARTER, LN_QUARTER};
        new TopPWarper(0.76, 1).process(new int[0], 0, x);
        assertThat(x).containsExactly(0f, LN_HALF, NEG, LN_QUARTER);
        assertThat(keptFastAndBaseline(new float[] {0f, LN_HALF, LN_QUARTER, LN_QUARTER}, 0.76))
                .containsExactly(0, 1, 3);
    }

    @Test
    void topPOnEqualLogitsRemovesExactlyTheMassAtOrBelowOneMinusTopP() {
        // 8 equal logits, p = 0.125 each; top_p 0.5: cumsums 0.125 .. 0.5 removed (4 tokens), 4 kept
        float[] x = new float[8];
        new TopPWarper(0.5, 1).process(new int[0], 0, x);
        assertThat(x).containsExactly(NEG, NEG, NEG, NEG, 0f, 0f, 0f, 0f);
    }

    @Test
    void topPAlwaysKeepsOneToken() {
        float[] x = {0f, 5f, 1f};
        new TopPWarper(1e-9, 1).process(new int[0], 0, x);
        assertThat(x).containsExactly(NEG, 5f, NEG);
    }

    @Test
    void topPIgnoresTokensAlreadyFiltered() {
        float[] x = {NEG, 0f, NEG, 0f};
        new TopPWarper(0.5, 1).process(new int[0], 0, x); // cumsum 0, 0, 0.5 (removed), 1
        assertThat(x).containsExactly(NEG, NEG, NEG, 0f);
    }

    @Test
    void tieOrderOfLargeArraysIsTorchsIntrosortNotStable() {
        // golden case 5 ("all_equal_with_few_high") has this shape: 995 zeros, 5 threes; the golden file
        // shows torch removing zeros at ids 625..749, not 0..108 as a stable sort would
        float[] v = new float[1000];
        int[] ids = new int[1000];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        v[3] = 3f;
        TorchSort.sortAscending(v, ids, v.length);
        for (int i = 1; i < v.length; i++) {
            assertThat(v[i - 1]).isLessThanOrEqualTo(v[i]);
        }
        assertThat(ids[999]).isEqualTo(3);
        assertThat(ids[0]).isNotEqualTo(0); // not stable
        assertThat(java.util.Arrays.stream(ids).sorted().toArray())
                .isEqualTo(java.util.stream.IntStream.range(0, 1000).toArray());
    }

    @Test
    void introsortFallsBackToHeapsortAndStillSorts() {
        // many distinct values in a pattern, checked only for being a permutation in ascending order
        java.util.Random r = new java.util.Random(7);
        for (int n : new int[] {0, 1, 2, 16, 17, 100, 5000}) {
            float[] v = new float[n];
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) {
                v[i] = r.nextInt(20);
                ids[i] = i;
            }
            float[] orig = v.clone();
            TorchSort.sortAscending(v, ids, n);
            for (int i = 0; i < n; i++) {
                assertThat(v[i]).isEqualTo(orig[ids[i]]);
                if (i > 0) {
                    assertThat(v[i - 1]).isLessThanOrEqualTo(v[i]);
                }
            }
        }
    }

    @Test
    void minPKeepsTokensAtLeastMinPTimesTheTopProbability() {
        // probs 0.5, 0.25, 0.125, 0.125; min_p 0.25 -> threshold 0.125: all kept; 0.26 -> 0.13: two removed
        float[] x = {0f, LN_HALF, LN_QUARTER, LN_QUARTER};
        new MinPWarper(0.25, 1).process(new int[0], 0, x);
        assertThat(x).containsExactly(0f, LN_HALF, LN_QUARTER, LN_QUARTER);
        new MinPWarper(0.26, 1).process(new int[0], 0, x);
        assertThat(x).containsExactly(0f, LN_HALF, NEG, NEG);
    }

    @Test
    void repetitionPenaltyDividesPositiveMultipliesNegativeOncePerDistinctId() {
        float[] x = {2.4f, -1.5f, 3f, 0f};
        int[] prev = {0, 1, 0, 0, 3, 99};
        new RepetitionPenaltyProcessor(1.2).process(prev, 5, x); // 99 is past prevLen
        assertThat(x).containsExactly(2.4f / 1.2f, -1.5f * 1.2f, 3f, 0f);
    }

    @Test
    void repetitionPenaltyRejectsIdsOutsideTheVocabulary() {
        assertThatThrownBy(() -> new RepetitionPenaltyProcessor(1.2).process(new int[] {4}, 1, new float[4]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("4")
                .hasMessageContaining("[0, 4)");
    }

    @Test
    void greedyTakesTheLowestIdAmongEqualMaxima() {
        GenerationConfig greedy = GenerationConfig.greedy();
        assertThat(Sampler.create(greedy).sample(new int[0], 0, new float[] {1f, 7f, 3f, 7f}))
                .isEqualTo(1);
        assertThat(Sampler.fullSortBaseline(greedy).sample(new int[0], 0, new float[] {1f, 7f, 3f, 7f}))
                .isEqualTo(1);
    }

    @Test
    void greedyStillAppliesTheRepetitionPenaltyAsTransformersDoes() {
        GenerationConfig c = GenerationConfig.builder().repetitionPenalty(2.0).build();
        // 5 / 2 = 2.5 < 4: the repeated token loses
        assertThat(Sampler.create(c).sample(new int[] {0}, 1, new float[] {5f, 4f}))
                .isEqualTo(1);
        assertThat(Sampler.fullSortBaseline(c).sample(new int[] {0}, 1, new float[] {5f, 4f}))
                .isEqualTo(1);
    }

    @Test
    void temperatureZeroWithSamplingIsGreedy() {
        GenerationConfig c =
                GenerationConfig.builder().doSample(true).temperature(0).seed(1).build();
        assertThat(c.isGreedy()).isTrue();
        assertThat(LogitsProcessorChain.of(c).processors()).isEmpty();
        for (int i = 0; i < 20; i++) {
            assertThat(Sampler.create(c).sample(new int[0], 0, new float[] {1f, 1.5f, 1.4f}))
                    .isEqualTo(1);
        }
    }

    @Test
    void neutralKnobsAddNoProcessor() {
        assertThat(LogitsProcessorChain.of(GenerationConfig.builder()
                                .doSample(true)
                                .topK(0)
                                .build())
                        .processors())
                .isEmpty();
        assertThat(LogitsProcessorChain.of(GenerationConfig.sampling()).processors())
                .singleElement()
                .isInstanceOf(TopKWarper.class); // HF's default top_k = 50
        assertThat(LogitsProcessorChain.of(GenerationConfig.builder()
                                .topK(5)
                                .topP(0.5)
                                .temperature(0.3)
                                .build())
                        .processors())
                .isEmpty(); // warpers only when sampling
    }

    private static int[] keptFastAndBaseline(float[] logits, double topP) {
        GenerationConfig c =
                GenerationConfig.builder().doSample(true).topK(0).topP(topP).build();
        int[] fast = Sampler.create(c).keptIds(new int[0], 0, logits.clone());
        int[] base = Sampler.fullSortBaseline(c).keptIds(new int[0], 0, logits.clone());
        assertThat(fast).isEqualTo(base);
        return fast;
    }
}
