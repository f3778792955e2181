package ai.medqa.finetune;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.junit.jupiter.api.Test;

/** loss.png of a short run: the step axis has whole-number ticks only. */
class LossCurveTest {

    @Test
    void aShortRunsStepAxisHasWholeNumberTicks() {
        List<StepStats> rows = List.of(
                new StepStats(1, 3, 0.3, 2.5, Double.NaN, 1e-4, 1, 100, 50, 1, 2),
                new StepStats(2, 3, 0.6, 2.1, 2.3, 1e-4, 1, 100, 50, 2, 1),
                new StepStats(3, 3, 1.0, 1.9, 2.0, 1e-4, 1, 100, 50, 3, 0));
        JFreeChart[] chart = new JFreeChart[1];
        LossCurve.render(rows, "three steps", chart);
        double tick = ((NumberAxis) chart[0].getXYPlot().getDomainAxis())
                .getTickUnit()
                .getSize();
        assertThat(tick).as("step axis tick").isGreaterThanOrEqualTo(1.0);
        assertThat(tick % 1.0).isZero();
    }
}
