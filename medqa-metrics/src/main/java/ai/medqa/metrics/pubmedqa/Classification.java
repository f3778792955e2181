package ai.medqa.metrics.pubmedqa;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Accuracy, macro-F1 and the confusion matrix exactly as PubMedQA's {@code evaluation.py} gets them
 * from scikit-learn: {@code accuracy_score(truth, pred)} and {@code f1_score(truth, pred,
 * average='macro')}, whose labels are the sorted union of both lists (so a prediction outside
 * yes/no/maybe becomes a class with F1 0 and lowers macro-F1), and a class with no true and no
 * predicted sample gets F1 0 (zero_division).
 *
 * @param labels class labels, sorted as scikit-learn sorts them
 * @param confusion rows = true label, columns = predicted label, in {@code labels} order
 * @param f1 per-class F1 in {@code labels} order
 */
public record Classification(
        int n, double accuracy, double macroF1, List<String> labels, int[][] confusion, double[] f1) {

    /** The label a prediction gets when no yes/no/maybe could be extracted. */
    public static final String UNKNOWN = "unknown";

    /** scikit-learn's default: labels = sorted union of truth and predictions. */
    public static Classification evaluate(List<String> truth, List<String> predicted) {
        TreeSet<String> labels = new TreeSet<>(truth);
        labels.addAll(predicted);
        return evaluate(truth, predicted, new ArrayList<>(labels));
    }

    /** With a fixed label set ({@code labels=} in scikit-learn); pairs with other labels are ignored in F1. */
    public static Classification evaluate(List<String> truth, List<String> predicted, List<String> labels) {
        if (truth.size() != predicted.size()) {
            throw new IllegalArgumentException(
                    "truth has " + truth.size() + " labels, predictions " + predicted.size());
        }
        if (truth.isEmpty()) {
            throw new IllegalArgumentException("no samples to evaluate");
        }
        Map<String, Integer> index = new HashMap<>();
        for (String l : labels) {
            index.put(l, index.size());
        }
        int k = labels.size();
        int[][] confusion = new int[k][k];
        int correct = 0;
        for (int i = 0; i < truth.size(); i++) {
            String t = truth.get(i);
            String p = predicted.get(i);
            if (t.equals(p)) {
                correct++;
            }
            Integer ti = index.get(t);
            Integer pi = index.get(p);
            if (ti != null && pi != null) {
                confusion[ti][pi]++;
            }
        }
        // tp, and the true/predicted counts per label (sklearn's multilabel_confusion_matrix).
        double[] f1 = new double[k];
        double sum = 0;
        for (int c = 0; c < k; c++) {
            long tp = 0;
            long trueSum = 0;
            long predSum = 0;
            for (int i = 0; i < truth.size(); i++) {
                boolean isTrue = truth.get(i).equals(labels.get(c));
                boolean isPred = predicted.get(i).equals(labels.get(c));
                tp += isTrue && isPred ? 1 : 0;
                trueSum += isTrue ? 1 : 0;
                predSum += isPred ? 1 : 0;
            }
            long denom = trueSum + predSum;
            f1[c] = denom == 0 ? 0.0 : 2.0 * tp / denom;
            sum += f1[c];
        }
        double accuracy = (double) correct / truth.size();
        return new Classification(truth.size(), accuracy, sum / k, List.copyOf(labels), confusion, f1);
    }

    /** Gold labels against extracted labels; an answer without one counts as {@link #UNKNOWN}. */
    public static Classification evaluateAnswers(List<PubMedQaLabel> truth, List<String> answers) {
        List<String> t = new ArrayList<>();
        List<String> p = new ArrayList<>();
        for (int i = 0; i < truth.size(); i++) {
            t.add(truth.get(i).text());
            p.add(
                    i < answers.size()
                            ? AnswerExtractor.extract(answers.get(i))
                                    .map(PubMedQaLabel::text)
                                    .orElse(UNKNOWN)
                            : UNKNOWN);
        }
        if (answers.size() != truth.size()) {
            throw new IllegalArgumentException("truth has " + truth.size() + " labels, answers " + answers.size());
        }
        return evaluate(t, p);
    }
}
