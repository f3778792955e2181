package ai.medqa.finetune;

import ai.medqa.common.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** The loss curve as CSV (one row per step) and as a PNG line chart, both written atomically. */
final class LossCurve {
    static final String CSV_HEADER =
            "step,epoch,loss,eval_loss,learning_rate,grad_norm,tokens,tokens_per_second,elapsed_s";

    private LossCurve() {}

    static void writeCsv(List<StepStats> rows, Path file) {
        AtomicFiles.write(file, out -> {
            Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
            w.write(CSV_HEADER);
            w.write('\n');
            for (StepStats s : rows) {
                w.write(String.format(
                        Locale.ROOT,
                        "%d,%.4f,%.6f,%s,%.6e,%.6f,%d,%.1f,%.3f%n",
                        s.step(),
                        s.epoch(),
                        s.loss(),
                        Double.isNaN(s.evalLoss()) ? "" : String.format(Locale.ROOT, "%.6f", s.evalLoss()),
                        s.learningRate(),
                        s.gradNorm(),
                        s.tokens(),
                        s.tokensPerSecond(),
                        s.elapsedSeconds()));
            }
            w.flush();
        });
    }

    static void writePng(List<StepStats> rows, String title, Path file) {
        BufferedImage image = render(rows, title);
        AtomicFiles.write(file, out -> {
            if (!ImageIO.write(image, "png", out)) {
                throw new IOException("no PNG writer available");
            }
        });
    }

    /** The chart, 900 x 500; {@code chart[0]}, when given, receives the JFreeChart drawn. */
    static BufferedImage render(List<StepStats> rows, String title, JFreeChart... chartOut) {
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
        XYSeries train = new XYSeries("train loss");
        XYSeries eval = new XYSeries("held-out loss");
        for (StepStats s : rows) {
            train.add(s.step(), s.loss());
            if (!Double.isNaN(s.evalLoss())) {
                eval.add(s.step(), s.evalLoss());
            }
        }
        XYSeriesCollection data = new XYSeriesCollection(train);
        if (eval.getItemCount() > 0) {
            data.addSeries(eval);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(
                title,
                "optimizer step",
                "cross-entropy (nats/token)",
                data,
                PlotOrientation.VERTICAL,
                true,
                false,
                false);
        chart.setBackgroundPaint(Color.WHITE);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(new Color(0xdddddd));
        plot.setDomainGridlinePaint(new Color(0xdddddd));
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, false);
        renderer.setSeriesPaint(0, new Color(0x1f77b4));
        renderer.setSeriesStroke(0, new BasicStroke(1.5f));
        renderer.setSeriesPaint(1, new Color(0xff7f0e));
        renderer.setSeriesStroke(1, new BasicStroke(2f));
        renderer.setSeriesShapesVisible(1, true);
        plot.setRenderer(renderer);
        ((NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        // Optimizer steps are whole numbers: no ticks at 2.5.
        ((NumberAxis) plot.getDomainAxis()).setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        if (chartOut.length > 0) {
            chartOut[0] = chart;
        }
        BufferedImage image = new BufferedImage(900, 500, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            chart.draw(g, new Rectangle2D.Double(0, 0, 900, 500));
        } finally {
            g.dispose();
        }
        return image;
    }
}
