package example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.medqa.metrics.lexical.NltkBleu;
import ai.medqa.metrics.lexical.Rouge;
import ai.medqa.metrics.lexical.TokenF1;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Lexical metrics from the installed artifact, with no DJL jar on the class path. */
class MetricsOnlyTest {

    @Test
    void lexicalMetricsWithoutDjl() {
        String ref = "Aspirin irreversibly inhibits cyclooxygenase.";
        assertEquals(1.0, TokenF1.squadF1(ref, ref), 1e-12);
        assertEquals(1.0, new NltkBleu(NltkBleu.Smoothing.METHOD1).sentence(ref, List.of(ref)), 1e-12);
        assertEquals(1.0, Rouge.standard(false).score(ref, ref).get("rougeL").fmeasure(), 1e-12);
        assertThrows(ClassNotFoundException.class, () -> Class.forName("ai.djl.ndarray.NDArray"));
        assertThrows(ClassNotFoundException.class, () -> Class.forName("ai.djl.engine.Engine"));
    }
}
