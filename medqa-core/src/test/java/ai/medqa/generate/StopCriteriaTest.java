package ai.medqa.generate;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StopCriteriaTest {
    private final StopCriteria stop = StopCriteria.of(
            GenerationConfig.builder()
                    .maxNewTokens(3)
                    .stopStrings("\nQuestion:", "###")
                    .build(),
            Set.of(2));

    @Test
    void eosFromTheModelUnlessConfigured() {
        assertThat(stop.isEos(2)).isTrue();
        assertThat(stop.isEos(1)).isFalse();
        StopCriteria own = StopCriteria.of(
                GenerationConfig.builder().eosTokenIds(List.of(7, 8)).build(), Set.of(2));
        assertThat(own.isEos(2)).isFalse();
        assertThat(own.isEos(8)).isTrue();
    }

    @Test
    void maxNewTokens() {
        assertThat(stop.isMaxNewTokensReached(2)).isFalse();
        assertThat(stop.isMaxNewTokensReached(3)).isTrue();
    }

    @Test
    void stopStringSpanningTokensIsFoundAndCutAtItsStart() {
        String before = "Aspirin inhibits COX.\nQuest";
        assertThat(stop.findStopString(before, 0)).isEqualTo(-1);
        String after = before + "ion: next";
        assertThat(stop.findStopString(after, before.length())).isEqualTo("Aspirin inhibits COX.".length());
    }

    @Test
    void earliestStopStringWins() {
        assertThat(stop.findStopString("ab### \nQuestion:", 0)).isEqualTo(2);
    }

    @Test
    void occurrencesEndingBeforeTheNewTextWereAlreadySeen() {
        String text = "###abc";
        assertThat(stop.findStopString(text, 3)).isEqualTo(-1);
        assertThat(stop.findStopString(text, 2)).isEqualTo(0);
    }

    @Test
    void safeLengthHoldsBackAPossibleStartOfAStopString() {
        assertThat(stop.safeLength("The dose is 5 mg.\nQues")).isEqualTo("The dose is 5 mg.".length());
        assertThat(stop.safeLength("a #")).isEqualTo(2);
        assertThat(stop.safeLength("plain")).isEqualTo(5);
        assertThat(StopCriteria.of(GenerationConfig.greedy(), Set.of(2)).safeLength("x\n"))
                .isEqualTo(2);
    }
}
