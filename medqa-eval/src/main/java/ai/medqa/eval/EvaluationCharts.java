package ai.medqa.eval;

import ai.medqa.common.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;

/**
 * The evaluation's PNG charts, drawn with Java2D (headless): accuracy per configuration with its
 * 95% interval as a whisker, and each configuration's confusion matrix (truth in rows, prediction in
 * columns, cells shaded by their share of the row).
 */
final class EvaluationCharts {
    private static final Color BAR = new Color(0x1f77b4);
    /** Prediction classes (columns); truth (rows) is never "unknown". */
    private static final List<String> CLASSES = List.of("yes", "no", "maybe", "unknown");

    private static final int TRUTHS = 3;
    private static final Font TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 16);
    private static final Font LABEL = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    private static final int MARGIN = 12;

    private EvaluationCharts() {}

    static void accuracy(List<Evaluation.ConfigSummary> summaries, Path file) {
        String title = "PubMedQA accuracy (95% bootstrap interval)";
        List<String> labels =
                summaries.stream().map(s -> s.name() + " (n " + s.n() + ")").toList();
        int barWidth = 90;
        int gap = 30;
        Layout l = layout(title, labels, barWidth, gap);
        BufferedImage image = canvas(l.width, l.height);
        Graphics2D g = image.createGraphics();
        try {
            style(g);
            titleAndGrid(g, title, l);
            FontMetrics fm = g.getFontMetrics(LABEL);
            for (int i = 0; i < summaries.size(); i++) {
                Evaluation.ConfigSummary s = summaries.get(i);
                int x = l.left + gap / 2 + i * (barWidth + gap);
                int y = l.y(s.accuracy());
                g.setColor(BAR);
                // A zero bar still shows as a line on the axis.
                g.fillRect(x, Math.min(y, l.base() - 2), barWidth, Math.max(2, l.base() - y));
                int labelBottom = y;
                if (!Double.isNaN(s.accuracyCi95()[0])) {
                    int lo = l.y(s.accuracyCi95()[0]);
                    int hi = l.y(s.accuracyCi95()[1]);
                    g.setColor(Color.BLACK);
                    g.setStroke(new BasicStroke(2f));
                    int cx = x + barWidth / 2;
                    g.drawLine(cx, lo, cx, hi);
                    g.drawLine(cx - 10, lo, cx + 10, lo);
                    g.drawLine(cx - 10, hi, cx + 10, hi);
                    g.setStroke(new BasicStroke(1f));
                    labelBottom = Math.min(labelBottom, hi);
                }
                // The value sits above both the bar and its interval, never on the whisker.
                g.setColor(Color.BLACK);
                g.setFont(LABEL);
                String value = String.format(Locale.ROOT, "%.3f", s.accuracy());
                g.drawString(value, x + (barWidth - fm.stringWidth(value)) / 2, labelBottom - 6);
                drawRotated(g, labels.get(i), x + barWidth / 2, l.base() + 10);
            }
        } finally {
            g.dispose();
        }
        write(image, file);
    }

    /**
     * {@code confusion}: per configuration, counts[truth][prediction] (truth over yes/no/maybe, the
     * prediction also "unknown" when the answer named none of them).
     */
    static void confusion(Map<String, int[][]> confusion, Path file) {
        String title = "Confusion matrices (rows: truth, columns: prediction)";
        String note = "unknown: the answer named none of yes, no, maybe";
        int cell = 56;
        int rowLabels = 64;
        FontMetrics bold = metrics(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        int panel = rowLabels + CLASSES.size() * cell;
        for (String name : confusion.keySet()) {
            panel = Math.max(panel, bold.stringWidth(name));
        }
        int width = Math.max(metrics(TITLE).stringWidth(title), metrics(LABEL).stringWidth(note)) + 2 * MARGIN;
        width = Math.max(width, MARGIN + confusion.size() * (panel + 20));
        int y0 = 90;
        int height = y0 + TRUTHS * cell + 50;
        BufferedImage image = canvas(width, height);
        Graphics2D g = image.createGraphics();
        try {
            style(g);
            g.setFont(TITLE);
            g.drawString(title, MARGIN, 28);
            int p = 0;
            for (Map.Entry<String, int[][]> e : confusion.entrySet()) {
                int px = MARGIN + p * (panel + 20);
                int x0 = px + rowLabels;
                g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
                g.setColor(Color.BLACK);
                g.drawString(e.getKey(), px, 55);
                g.setFont(LABEL);
                for (int c = 0; c < CLASSES.size(); c++) {
                    g.drawString(CLASSES.get(c), x0 + c * cell + 4, y0 - 8);
                }
                for (int r = 0; r < TRUTHS; r++) {
                    g.drawString(CLASSES.get(r), px, y0 + r * cell + cell / 2 + 4);
                }
                int[][] m = e.getValue();
                for (int r = 0; r < TRUTHS; r++) {
                    int rowTotal = Arrays.stream(m[r]).sum();
                    for (int c = 0; c < CLASSES.size(); c++) {
                        double share = rowTotal == 0 ? 0 : (double) m[r][c] / rowTotal;
                        int shade = 255 - (int) Math.round(180 * share);
                        g.setColor(new Color(shade, shade, 255));
                        g.fillRect(x0 + c * cell, y0 + r * cell, cell - 2, cell - 2);
                        g.setColor(Color.BLACK);
                        String t = Integer.toString(m[r][c]);
                        FontMetrics fm = g.getFontMetrics();
                        g.drawString(t, x0 + c * cell + (cell - fm.stringWidth(t)) / 2, y0 + r * cell + cell / 2 + 4);
                    }
                }
                p++;
            }
            g.setColor(Color.DARK_GRAY);
            g.drawString(note, MARGIN, y0 + TRUTHS * cell + 24);
        } finally {
            g.dispose();
        }
        write(image, file);
    }

    /**
     * Where a chart of value columns over [0, 1] puts things: room on the left for the axis, above
     * for the title and the value labels, on the right and below for each column's label drawn at 45
     * degrees from its column's centre. Sizes come from the fonts' metrics, so no text is cut off.
     */
    private record Layout(int width, int height, int left, int top, int plotHeight) {
        int base() {
            return top + plotHeight;
        }

        int y(double value) {
            return top + (int) Math.round(plotHeight * (1 - Math.max(0, Math.min(1, value))));
        }
    }

    private static Layout layout(String title, List<String> labels, int column, int gap) {
        FontMetrics fm = metrics(LABEL);
        int left = 50;
        int top = 64;
        int plotHeight = 300;
        double diagonal = Math.sqrt(0.5);
        int right = left + 20 + labels.size() * (column + gap);
        int below = 0;
        for (int i = 0; i < labels.size(); i++) {
            int w = fm.stringWidth(labels.get(i));
            int cx = left + gap / 2 + i * (column + gap) + column / 2;
            right = Math.max(right, cx + (int) Math.ceil((w + fm.getHeight()) * diagonal) + MARGIN);
            below = Math.max(below, (int) Math.ceil((w + fm.getHeight()) * diagonal));
        }
        int width = Math.max(480, Math.max(right, left + metrics(TITLE).stringWidth(title) + MARGIN));
        int height = top + plotHeight + 10 + below + MARGIN;
        return new Layout(width, height, left, top, plotHeight);
    }

    private static FontMetrics metrics(Font font) {
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
        BufferedImage scratch = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = scratch.createGraphics();
        try {
            style(g);
            return g.getFontMetrics(font);
        } finally {
            g.dispose();
        }
    }

    /** The title, and a [0, 1] value axis: a grid line and label every 0.1. */
    private static void titleAndGrid(Graphics2D g, String title, Layout l) {
        g.setFont(TITLE);
        g.setColor(Color.BLACK);
        g.drawString(title, l.left, 30);
        g.setFont(LABEL);
        for (int i = 0; i <= 10; i++) {
            int y = l.y(i / 10.0);
            g.setColor(new Color(0xdddddd));
            g.drawLine(l.left, y, l.width - MARGIN, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format(Locale.ROOT, "%.1f", i / 10.0), l.left - 30, y + 4);
        }
    }

    /** One column of dots per configuration (a value per question, jittered sideways), its mean as a bar. */
    static void distribution(Map<String, double[]> values, String title, Path file) {
        int column = 110;
        int gap = 20;
        List<String> labels = new ArrayList<>();
        values.forEach((name, v) -> labels.add(String.format(
                Locale.ROOT, "%s (mean %.3f)", name, Arrays.stream(v).average().orElse(0))));
        Layout l = layout(title, labels, column, gap);
        boolean allZero =
                values.values().stream().flatMapToDouble(Arrays::stream).allMatch(v -> v == 0);
        BufferedImage image = canvas(l.width, l.height);
        Graphics2D g = image.createGraphics();
        try {
            style(g);
            titleAndGrid(g, title, l);
            SplittableRandom jitter = new SplittableRandom(1);
            int c = 0;
            for (Map.Entry<String, double[]> e : values.entrySet()) {
                int x = l.left + gap / 2 + c * (column + gap);
                double mean = Arrays.stream(e.getValue()).average().orElse(0);
                g.setColor(new Color(0xd62728));
                int my = l.y(mean);
                g.setStroke(new BasicStroke(2f));
                g.drawLine(x, my, x + column, my);
                g.setStroke(new BasicStroke(1f));
                g.setColor(new Color(31, 119, 180, 140));
                for (double v : e.getValue()) {
                    int px = x + 10 + jitter.nextInt(column - 20);
                    int py = l.y(v);
                    g.fillOval(px - 3, py - 3, 6, 6);
                }
                g.setColor(Color.BLACK);
                g.setFont(LABEL);
                drawRotated(g, labels.get(c), x + column / 2, l.base() + 10);
                c++;
            }
            if (allZero) {
                // Not an empty chart: every answer scored 0.
                g.setColor(Color.DARK_GRAY);
                g.drawString("every value is 0", l.left + 20, l.top + 40);
            }
        } finally {
            g.dispose();
        }
        write(image, file);
    }

    static int[][] counts(List<String> truth, List<String> predicted) {
        int[][] m = new int[CLASSES.size()][CLASSES.size()];
        for (int i = 0; i < truth.size(); i++) {
            int r = CLASSES.indexOf(truth.get(i));
            int c = CLASSES.indexOf(predicted.get(i));
            if (r >= 0 && c >= 0) {
                m[r][c]++;
            }
        }
        return m;
    }

    private static BufferedImage canvas(int width, int height) {
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.dispose();
        return image;
    }

    private static void style(Graphics2D g) {
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.BLACK);
    }

    /** {@code text} at 45 degrees down and to the right from ({@code x}, {@code y}). */
    private static void drawRotated(Graphics2D g, String text, int x, int y) {
        var saved = g.getTransform();
        g.translate(x, y);
        g.rotate(Math.PI / 4);
        g.drawString(text, 0, 0);
        g.setTransform(saved);
    }

    private static void write(BufferedImage image, Path file) {
        AtomicFiles.write(file, out -> {
            if (!ImageIO.write(image, "png", out)) {
                throw new IOException("no PNG writer available");
            }
        });
    }
}
