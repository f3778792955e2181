package ai.medqa.metrics.lexical;

/** rouge-score's {@code Score}: precision, recall and F-measure of one ROUGE type. */
public record RougeScore(double precision, double recall, double fmeasure) {
    static final RougeScore ZERO = new RougeScore(0, 0, 0);

    /** rouge-score's {@code scoring.fmeasure}. */
    static RougeScore of(double precision, double recall) {
        double f = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
        return new RougeScore(precision, recall, f);
    }
}
