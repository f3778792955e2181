package ai.medqa.examples.cli;

import ai.medqa.eval.Evaluation;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code --fail-if-worse NEW:OLD}, the evaluation gates: their syntax and names checked before any
 * model loads, then applied to the folder's comparisons once its report is written.
 */
final class GateOptions {
    /** Exit code of a failed --fail-if-worse gate (1 is an error, 2 a usage error). */
    static final int GATE_FAILED = 3;

    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    @Option(
            names = "--fail-if-worse",
            paramLabel = "NEW:OLD",
            description = "Exit 3 when configuration NEW is significantly worse than OLD (lower accuracy, McNemar's "
                    + "exact p < 0.05 on the questions both answered): a gate before promoting an adapter. Repeatable.")
    List<String> failIfWorse = new ArrayList<>();

    /** Each gate is NEW:OLD, two different names; a usage error otherwise. */
    void checkSyntax() {
        for (String gate : failIfWorse) {
            String[] parts = gate.split(":", -1);
            if (parts.length != 2 || parts[0].isBlank() || parts[1].isBlank() || parts[0].equals(parts[1])) {
                throw new ParameterException(
                        mixee.commandLine(),
                        "--fail-if-worse " + gate
                                + ": expected NEW:OLD, two configuration names (e.g. finetuned-pubmed:harness)");
            }
        }
    }

    /** Gates name configurations of this run: checked before any model loads. */
    void checkNames(List<Evaluation.Config> configs) {
        List<String> names = configs.stream().map(Evaluation.Config::name).toList();
        for (String gate : failIfWorse) {
            for (String name : gate.split(":", -1)) {
                if (!names.contains(name)) {
                    throw new ParameterException(
                            mixee.commandLine(),
                            "--fail-if-worse " + gate + ": no configuration " + name + " in this run (it has "
                                    + String.join(", ", names) + ")");
                }
            }
        }
    }

    /** The gates on the folder's predictions, each printed: 0 when all hold, {@link #GATE_FAILED} otherwise. */
    int apply(Path folder, int bootstrap, long seed, PrintStream stdout) {
        int code = 0;
        for (String gate : failIfWorse) {
            String[] parts = gate.split(":", -1);
            Evaluation.Comparison c = Evaluation.compare(folder, parts[0], parts[1], bootstrap, seed);
            boolean worse = c.significantlyWorse(0.05);
            stdout.printf(
                    Locale.ROOT,
                    "gate %s vs %s: accuracy %s on %d questions, McNemar p %.4f: %s%n",
                    c.config(),
                    c.baseline(),
                    c.accuracyDifferenceText("95% CI "),
                    c.n(),
                    c.mcnemarP(),
                    worse ? "FAILED (significantly worse)" : "passed");
            code = worse ? GATE_FAILED : code;
        }
        return code;
    }
}
