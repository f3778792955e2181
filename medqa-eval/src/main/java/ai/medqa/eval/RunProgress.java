package ai.medqa.eval;

import ai.medqa.eval.Evaluation.ProgressUpdate;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A run's progress: the listener told after each question (a terminal's bar), and log lines of
 * done/total, questions/s, ETA and running accuracy at most every 5 seconds.
 */
final class RunProgress {
    // Evaluation's logger: the progress lines keep the name a log configuration knows the run by.
    private static final Logger log = LoggerFactory.getLogger(Evaluation.class);

    private final Consumer<ProgressUpdate> listener;
    private final int total;
    private final long started = System.nanoTime();
    private long lastLog;
    private int done;
    private int correct;

    RunProgress(int total, Consumer<ProgressUpdate> listener) {
        this.total = total;
        this.listener = listener;
    }

    void add(boolean right) {
        done++;
        correct += right ? 1 : 0;
        long now = System.nanoTime();
        if (listener != null) {
            double seconds = (now - started) / 1e9;
            double rate = done / Math.max(seconds, 1e-9);
            listener.accept(
                    new ProgressUpdate(done, total, rate, Math.round((total - done) / rate), (double) correct / done));
        }
        if (done == total || now - lastLog > 5_000_000_000L) {
            lastLog = now;
            double seconds = (now - started) / 1e9;
            double rate = done / Math.max(seconds, 1e-9);
            log.info(
                    "{}/{} questions, {} questions/s, ETA {} s, running accuracy {}",
                    done,
                    total,
                    String.format("%.2f", rate),
                    Math.round((total - done) / rate),
                    String.format("%.3f", (double) correct / done));
        }
    }
}
