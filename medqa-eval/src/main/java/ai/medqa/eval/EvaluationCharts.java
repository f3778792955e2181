package ai.medqa.eval;

import ai.medqa.common.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * The evaluation's PNG charts, drawn with Java2D (headless): accuracy per configuration with its
 * 95% interval as a whisker, and each configuration's confusion matrix (truth in rows, prediction in
 * columns, cells shaded by their share of the row).
 */
final class EvaluationCharts {
    private static final Color BAR = new Color(0x1f77b4);
    private static final List<String> CLASSES = List.of("yes", "no", "maybe", "unknown");

    private EvaluationCharts() {}

    static void accuracy(List<Evaluation.ConfigSummary> summaries, Path file) {
        int barWidth = 90;
        int width = Math.max(480, 120 + summaries.size() * (barWidth + 30));
        int height = 420;
        int left = 70;
        int top = 50;
        int bottom = 120;
        int plotHeight = height - top - bottom;
        BufferedImage image = canvas(width, height);
        Graphics2D g = image.createGraphics();
        try {
            style(g);
            titleAndGrid(g, "PubMedQA accuracy (95% bootstrap interval)", left, top, plotHeight, width);
            for (int i = 0; i < summaries.size(); i++) {
                Evaluation.ConfigSummary s = summaries.get(i);
                int x = left + 20 + i * (barWidth + 30);
                int y = top + (int) Math.round(plotHeight * (1 - s.accuracy()));
                g.setColor(BAR);
                g.fillRect(x, y, barWidth, top + plotHeight - y);
                if (!Double.isNaN(s.accuracyCi95()[0])) {
                    int lo = top + (int) Math.round(plotHeight * (1 - s.accuracyCi95()[0]));
                    int hi = top + (int) Math.round(plotHeight * (1 - s.accuracyCi95()[1]));
                    g.setColor(Color.BLACK);
                    g.setStroke(new BasicStroke(2f));
                    int cx = x + barWidth / 2;
                    g.drawLine(cx, lo, cx, hi);
                    g.drawLine(cx - 10, lo, cx + 10, lo);
                    g.drawLine(cx - 10, hi, cx + 10, hi);
                    g.setStroke(new BasicStroke(1f));
                }
                g.setColor(Color.BLACK);
                g.drawString(String.format(Locale.ROOT, "%.3f", s.accuracy()), x + barWidth / 2 - 16, y - 6);
                drawRotated(g, s.name() + " (n " + s.n() + ")", x + barWidth / 2 + 4, top + plotHeight + 10);
            }
        } finally {
            g.dispose();
        }
        write(image, file);
    }

    /** {@code confusion}: per configuration, counts[truth][prediction] over {@link #CLASSES}. */
    static void confusion(Map<String, int[][]> confusion, Path file) {
        int cell = 56;
        int panel = 110 + CLASSES.size() * cell;
        int width = Math.max(480, 20 + confusion.size() * (panel + 20));
        int height = 120 + CLASSES.size() * cell + 40;
        BufferedImage image = canvas(width, height);
        Graphics2D g = image.createGraphics();
        try {
            style(g);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
            g.drawString("Confusion matrices (rows: truth, columns: prediction)", 20, 28);
            int p = 0;
            for (Map.Entry<String, int[][]> e : confusion.entrySet()) {
                int x0 = 20 + p * (panel + 20) + 80;
                int y0 = 90;
                g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
                g.setColor(Color.BLACK);
                g.drawString(e.getKey(), x0 - 70, 55);
                g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
                for (int c = 0; c < CLASSES.size(); c++) {
                    g.drawString(CLASSES.get(c), x0 + c * cell + 6, y0 - 8);
                    g.drawString(CLASSES.get(c), x0 - 70, y0 + c * cell + cell / 2 + 4);
                }
                int[][] m = e.getValue();
                for (int r = 0; r < CLASSES.size(); r++) {
                    int rowTotal = java.util.Arrays.stream(m[r]).sum();
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
        } finally {
            g.dispose();
        }
        write(image, file);
    }

    /** The title, and a [0, 1] value axis: a grid line and label every 0.1. */
    private static void titleAndGrid(Graphics2D g, String title, int left, int top, int plotHeight, int width) {
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.drawString(title, left, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int i = 0; i <= 10; i++) {
            int y = top + plotHeight - i * plotHeight / 10;
            g.setColor(new Color(0xdddddd));
            g.drawLine(left, y, width - 20, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format(Locale.ROOT, "%.1f", i / 10.0), left - 30, y + 4);
        }
    }

    /** One column of dots per configuration (a value per question, jittered sideways), its mean as a bar. */
    static void distribution(Map<String, double[]> values, String title, Path file) {
        int column = 110;
        int width = Math.max(480, 120 + values.size() * (column + 20));
        int height = 420;
        int left = 70;
        int top = 50;
        int plotHeight = height - top - 120;
        BufferedImage image = canvas(width, height);
        Graphics2D g = image.createGraphics();
        try {
            style(g);
            titleAndGrid(g, title, left, top, plotHeight, width);
            java.util.SplittableRandom jitter = new java.util.SplittableRandom(1);
            int c = 0;
            for (Map.Entry<String, double[]> e : values.entrySet()) {
                int x = left + 20 + c * (column + 20);
                double mean = java.util.Arrays.stream(e.getValue()).average().orElse(0);
                g.setColor(new Color(0xd62728));
                int my = top + (int) Math.round(plotHeight * (1 - mean));
                g.setStroke(new BasicStroke(2f));
                g.drawLine(x, my, x + column, my);
                g.setStroke(new BasicStroke(1f));
                g.setColor(new Color(31, 119, 180, 140));
                for (double v : e.getValue()) {
                    int px = x + 10 + jitter.nextInt(column - 20);
                    int py = top + (int) Math.round(plotHeight * (1 - Math.max(0, Math.min(1, v))));
                    g.fillOval(px - 3, py - 3, 6, 6);
                }
                g.setColor(Color.BLACK);
                drawRotated(g, String.format(Locale.ROOT, "%s (mean %.3f)", e.getKey(), mean), x + column / 2, top + plotHeight + 10);
                c++;
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
                throw new java.io.IOException("no PNG writer available");
            }
        });
    }
}
