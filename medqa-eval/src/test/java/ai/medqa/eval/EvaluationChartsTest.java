package ai.medqa.eval;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The evaluation's charts keep every title, label and value inside the picture, for one configuration
 * and for long names: a 4-pixel frame around the image stays background (text cut off at an edge
 * leaves ink there). The images land in target/charts to be looked at.
 */
class EvaluationChartsTest {
    static final String LONG = "finetuned-pubmedqa-r16-alpha32+no-contexts";

    @TempDir
    Path dir;

    static Evaluation.ConfigSummary summary(String name, double accuracy, double lo, double hi) {
        return new Evaluation.ConfigSummary(
                name, "likelihood", 500, accuracy, new double[] {lo, hi}, 0.5, new double[] {0.4, 0.6}, 0, Map.of());
    }

    @Test
    void accuracyConfusionAndDistributionFitTheirPictures() throws Exception {
        List<Evaluation.ConfigSummary> one = List.of(summary("harness", 0.552, 0.51, 0.59));
        List<Evaluation.ConfigSummary> many = List.of(
                summary("harness", 0.552, 0.51, 0.59),
                summary(LONG, 0.0, 0.0, 0.0),
                summary("harness+no-contexts", 0.98, 0.95, 1.0));
        Map<String, int[][]> confusionOne = new LinkedHashMap<>();
        confusionOne.put(
                "harness",
                EvaluationCharts.counts(List.of("yes", "no", "maybe", "yes"), List.of("yes", "no", "unknown", "no")));
        Map<String, double[]> f1 = new LinkedHashMap<>();
        f1.put(LONG, new double[] {0, 0, 0});
        f1.put("harness", new double[] {0.2, 0.9, 0.4});
        EvaluationCharts.accuracy(one, dir.resolve("accuracy-one.png"));
        EvaluationCharts.accuracy(many, dir.resolve("accuracy-many.png"));
        EvaluationCharts.confusion(confusionOne, dir.resolve("confusion-one.png"));
        EvaluationCharts.distribution(f1, "token F1 (squad_f1) of each answer", dir.resolve("squad_f1.png"));
        for (String png : new String[] {"accuracy-one.png", "accuracy-many.png", "confusion-one.png", "squad_f1.png"}) {
            BufferedImage image = ImageIO.read(dir.resolve(png).toFile());
            Files.createDirectories(Path.of("target", "charts"));
            Files.copy(
                    dir.resolve(png),
                    Path.of("target", "charts", png),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertThat(inkOnTheFrame(image, 4))
                    .as(png + ": drawing on its outer 4 pixels (clipped text)")
                    .isZero();
        }
    }

    /** Pixels of the outer {@code frame} pixels that are not white. */
    static int inkOnTheFrame(BufferedImage image, int frame) {
        int ink = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                boolean edge =
                        x < frame || y < frame || x >= image.getWidth() - frame || y >= image.getHeight() - frame;
                if (edge && (image.getRGB(x, y) & 0xffffff) != 0xffffff) {
                    ink++;
                }
            }
        }
        return ink;
    }
}
