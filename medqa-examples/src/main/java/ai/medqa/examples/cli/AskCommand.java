package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.common.AppendLog;
import ai.medqa.common.Json;
import ai.medqa.generate.BatchEngine;
import ai.medqa.generate.Generation;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code medqa ask}: one answer, streamed to standard output as it is generated; or, with
 * {@code --in questions.jsonl --out answers.jsonl}, every question of a file, decoded together in
 * batches, each answer appended as soon as it and those before it are done (a killed run continues
 * where it stopped), in the {@code candidate}/{@code reference} form {@code medqa score} reads.
 */
@Command(
        name = "ask",
        mixinStandardHelpOptions = true,
        description = {
            "Answer one question, streaming the answer;",
            "or with --in/--out, every question of a JSON Lines file (question, optional id and reference), answers appended",
            "as candidate to --out (what medqa score reads); rerun the same command to continue a killed run."
        })
final class AskCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Parameters(index = "0", arity = "0..1", description = "The question (or --prompt-file).")
    String question;

    @picocli.CommandLine.Option(
            names = "--prompt-file",
            description = "The question from a UTF-8 file; - reads standard input.")
    String promptFile;

    @picocli.CommandLine.Option(
            names = "--in",
            paramLabel = "FILE.jsonl",
            description =
                    "Questions, one JSON object a line: question (required), id and reference (kept), other fields kept.")
    Path inFile;

    @picocli.CommandLine.Option(
            names = "--out",
            paramLabel = "FILE.jsonl",
            description =
                    "With --in: the answers, each input line plus candidate, stop and tokens; continued if it exists.")
    Path outFile;

    @picocli.CommandLine.Option(
            names = "--batch",
            defaultValue = "8",
            paramLabel = "N",
            description = "With --in: questions decoded together (default ${DEFAULT-VALUE}).")
    int batch;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    InputStream in = System.in;

    PrintStream out = System.out;
    PrintStream err = System.err;

    @Override
    public Integer call() {
        if (inFile != null || outFile != null) {
            return askFile();
        }
        if (question == null && promptFile == null) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(),
                    "no question: give it as an argument (medqa ask --model DIR \"QUESTION\") or with --prompt-file FILE");
        }
        if (question != null && promptFile != null) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(), "give the question as an argument or with --prompt-file, not both");
        }
        if (promptFile != null) {
            question = TextFiles.read(promptFile, in).strip();
        }
        var config = sampling.config(); // validates the sampling options before the model loads
        try (MedQA medqa = sampling.apply(model.builder()).build()) {
            Generation g = medqa.stream(question, config, text -> {
                out.print(text);
                out.flush();
            });
            out.println();
            err.printf(
                    "%d new tokens, stop: %s, %.1f tok/s%n",
                    g.tokens().length, g.stopReason(), g.decodeTokensPerSecond());
            return 0;
        }
    }

    /** --in/--out: every question of the file, in batches, appended in input order. */
    private int askFile() {
        if (inFile == null || outFile == null) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(),
                    "--in and --out go together: questions from " + "--in FILE.jsonl, answers to --out FILE.jsonl");
        }
        if (question != null || promptFile != null) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(), "give questions with --in or one question, " + "not both");
        }
        if (batch < 1) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(), "--batch " + batch + ": expected >= 1");
        }
        if (Files.isDirectory(outFile)) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(),
                    "--out " + outFile + ": a folder; give the path of the JSON Lines file to write");
        }
        List<ObjectNode> questions = questions(inFile);
        var config = sampling.config();
        try (AppendLog answers = AppendLog.open(outFile)) {
            List<ObjectNode> done = answers.lines();
            if (done.size() > questions.size()) {
                throw new IllegalArgumentException(outFile + " holds " + done.size() + " answers but " + inFile
                        + " only " + questions.size() + " questions; use a new --out");
            }
            for (int i = 0; i < done.size(); i++) {
                if (!done.get(i).path("question").equals(questions.get(i).get("question"))) {
                    throw new IllegalArgumentException(
                            outFile + ": answer " + (i + 1) + " is for another question than line "
                                    + questions.get(i).get("_line").asInt() + " of " + inFile + "; use a new --out");
                }
            }
            if (done.size() == questions.size()) {
                err.println(
                        "medqa: all " + questions.size() + " questions of " + inFile + " are answered in " + outFile);
                return 0;
            }
            if (!done.isEmpty()) {
                err.println(
                        "medqa: continuing " + outFile + ": " + done.size() + " of " + questions.size() + " answered");
            }
            Medqa.onInterrupt("rerun the same command to continue: the answers so far are kept in " + outFile);
            try (MedQA medqa = sampling.apply(model.builder()).build();
                    BatchEngine engine = medqa.newEngine(batch, questions.size())) {
                String adapter = medqa.activeAdapter().orElse(null);
                ArrayDeque<Map.Entry<ObjectNode, BatchEngine.Request>> running = new ArrayDeque<>();
                int next = done.size();
                long started = System.nanoTime();
                int written = 0;
                while (next < questions.size() || !running.isEmpty()) {
                    // Keep the engine's rows full, a batch ahead; write strictly in input order.
                    while (next < questions.size() && running.size() < 2 * batch) {
                        ObjectNode q = questions.get(next++);
                        int[] ids = medqa.chatPromptIds(
                                medqa.newConversation()
                                        .addUser(q.get("question").asText()),
                                config);
                        running.add(Map.entry(q, engine.submit(ids, config, adapter, null)));
                    }
                    var head = running.poll();
                    Generation g = head.getValue().result().join();
                    ObjectNode line = head.getKey().deepCopy();
                    line.remove("_line");
                    line.put("candidate", g.text());
                    line.put("stop", g.stopReason().name().toLowerCase(Locale.ROOT));
                    line.put("tokens", g.tokens().length);
                    answers.append(line);
                    written++;
                    if (written % 10 == 0 || next == questions.size() && running.isEmpty()) {
                        double seconds = (System.nanoTime() - started) / 1e9;
                        err.printf(
                                Locale.ROOT,
                                "medqa: %d/%d answered, %.2f questions/s%n",
                                done.size() + written,
                                questions.size(),
                                written / seconds);
                    }
                }
            }
        }
        err.println("medqa: wrote " + outFile + " (medqa score --in " + outFile + " scores lines with a reference)");
        return 0;
    }

    /** The input's questions in order, each checked, with its line number in {@code _line}. */
    private static List<ObjectNode> questions(Path file) {
        List<ObjectNode> out = new ArrayList<>();
        int n = 0;
        for (String text : TextFiles.lines(file)) {
            n++;
            if (text.isBlank()) {
                continue;
            }
            JsonNode node;
            try {
                node = Json.MAPPER.readTree(text);
            } catch (IOException e) {
                throw new IllegalArgumentException(file + ": line " + n + " is not JSON: " + e.getMessage());
            }
            if (!(node instanceof ObjectNode o)
                    || !o.path("question").isTextual()
                    || o.get("question").asText().isBlank()) {
                throw new IllegalArgumentException(file + ": line " + n + " needs \"question\": a non-empty string");
            }
            if (o.has("candidate")) {
                throw new IllegalArgumentException(
                        file + ": line " + n + " already has \"candidate\" (is it an answers file?)");
            }
            o.put("_line", n);
            out.add(o);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + ": no questions");
        }
        return out;
    }
}
