package ai.medqa.metrics.report;

import ai.medqa.common.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.CategoryLabelPositions;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.data.category.DefaultCategoryDataset;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The seed notebook's chart: one bar per sample for one or more metrics, with a dashed line at
 * each metric's mean; rendered headless to PNG with JFreeChart.
 */
public final class ScoreChart {
    private static final Logger LOG = LoggerFactory.getLogger(ScoreChart.class);
    private static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728), new Color(0x9467bd),
    };

    private ScoreChart() {}

    /** Bars of {@code metrics} for every row, {@code width} x {@code height} pixels. */
    public static BufferedImage render(EvaluationResult result, List<String> metrics, int width, int height) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("chart size must be positive: " + width + "x" + height);
        }
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (EvaluationResult.Row r : result.rows()) {
            for (String m : metrics) {
                Double v = r.metrics().get(m);
                data.addValue(v == null || v.isNaN() ? null : v, seriesName(result, m), r.id());
            }
        }
        JFreeChart chart = ChartFactory.createBarChart(
                result.name(), "sample", "score", data, PlotOrientation.VERTICAL, true, false, false);
        chart.setBackgroundPaint(Color.WHITE);
        CategoryPlot plot = chart.getCategoryPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(new Color(0xdddddd));
        BarRenderer renderer = (BarRenderer) plot.getRenderer();
        renderer.setBarPainter(new StandardBarPainter());
        renderer.setShadowVisible(false);
        renderer.setItemMargin(0.02);
        for (int i = 0; i < metrics.size(); i++) {
            Color c = PALETTE[i % PALETTE.length];
            renderer.setSeriesPaint(i, c);
            var summary = result.aggregates().get(metrics.get(i));
            if (summary != null) {
                ValueMarker mean = new ValueMarker(
                        summary.mean(),
                        c.darker(),
                        new BasicStroke(
                                1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
                plot.addRangeMarker(mean);
            }
        }
        NumberAxis y = (NumberAxis) plot.getRangeAxis();
        y.setRange(0.0, 1.05);
        CategoryAxis x = plot.getDomainAxis();
        x.setCategoryLabelPositions(CategoryLabelPositions.UP_90);
        x.setTickLabelsVisible(result.rows().size() <= 60);
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            chart.draw(g, new Rectangle2D.Double(0, 0, width, height));
        } finally {
            g.dispose();
        }
        return image;
    }

    // The legend carries the mean (the dashed line's value), so labels never cover the bars.
    private static String seriesName(EvaluationResult result, String metric) {
        var summary = result.aggregates().get(metric);
        return summary == null ? metric : String.format(Locale.ROOT, "%s (mean %.3f, dashed)", metric, summary.mean());
    }

    /** Renders and writes a PNG atomically. */
    public static void writePng(EvaluationResult result, List<String> metrics, int width, int height, Path file) {
        BufferedImage image = render(result, metrics, width, height);
        AtomicFiles.write(file, out -> {
            if (!ImageIO.write(image, "png", out)) {
                throw new IOException("no PNG writer available");
            }
        });
        LOG.info("wrote chart {} ({}x{})", file, width, height);
    }
}
