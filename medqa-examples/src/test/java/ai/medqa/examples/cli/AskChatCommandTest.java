package ai.medqa.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.MedQA;
import ai.medqa.chat.Conversation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code medqa ask} and {@code medqa chat} on a small random model with Mistral-Instruct's tokenizer. */
class AskChatCommandTest {
    static final Path TOKENIZERS = Path.of("../medqa-core/src/test/resources/tokenizer");

    @TempDir
    static Path model;

    @BeforeAll
    static void writeModel() throws Exception {
        RandomCheckpoint.write(model, RandomCheckpoint.config(32, 64, 2, 4, 2, 32000, 1024, 0), DType.F32, 5);
        Files.copy(TOKENIZERS.resolve("mistral-7b-v0.1/tokenizer.json"), model.resolve("tokenizer.json"));
        Files.copy(
                TOKENIZERS.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"),
                model.resolve("tokenizer_config.json"));
    }

    @Test
    void askStreamsTheSameAnswerAsTheApi() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AskCommand cmd = new AskCommand();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        int code = new CommandLine(cmd)
                .execute(
                        "--model",
                        model.toString(),
                        "--temperature",
                        "0.5",
                        "--top-p",
                        "0.9",
                        "--top-k",
                        "20",
                        "--repetition-penalty",
                        "1.1",
                        "--max-new-tokens",
                        "12",
                        "--seed",
                        "3",
                        "--system",
                        "Be brief.",
                        "Is aspirin an NSAID?");
        assertThat(code).isZero();
        GenerationConfig config = MedQA.ASK_DEFAULTS.toBuilder()
                .temperature(0.5)
                .topP(0.9)
                .topK(20)
                .repetitionPenalty(1.1)
                .maxNewTokens(12)
                .seed(3)
                .build();
        try (MedQA medqa =
                MedQA.builder().model(model).systemPrompt("Be brief.").build()) {
            String expected = medqa.ask("Is aspirin an NSAID?", config).text();
            assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(expected + System.lineSeparator());
        }
    }

    /**
     * --in/--out: each answer equals the single-question API's for the same settings (sampled, seeded:
     * batching changes nothing); input fields are kept; a killed run (two whole answers and half a
     * third) continues to the same file; medqa score reads the result.
     */
    @Test
    void askAnswersAFileInBatchesResumablyForScore(@TempDir Path tmp) throws Exception {
        String[] questions = {
            "Is aspirin an NSAID?",
            "Does metformin cause lactic acidosis?",
            "What is heparin?",
            "Is insulin a hormone?",
            "Do statins lower LDL?"
        };
        StringBuilder in = new StringBuilder();
        for (int i = 0; i < questions.length; i++) {
            in.append(ai.medqa.common.Json.MAPPER
                            .createObjectNode()
                            .put("id", "q" + i)
                            .put("question", questions[i])
                            .put("reference", "reference answer " + i))
                    .append('\n');
            if (i == 2) {
                in.append('\n'); // blank lines are skipped
            }
        }
        Path questionsFile = Files.writeString(tmp.resolve("questions.jsonl"), in.toString());
        Path answers = tmp.resolve("out/answers.jsonl");
        String[] args = {
            "--model",
            model.toString(),
            "--in",
            questionsFile.toString(),
            "--out",
            answers.toString(),
            "--batch",
            "2",
            "--temperature",
            "0.7",
            "--top-p",
            "0.9",
            "--max-new-tokens",
            "6",
            "--seed",
            "11"
        };
        assertThat(ask(args)).isZero();
        java.util.List<String> lines = Files.readAllLines(answers);
        assertThat(lines).hasSize(questions.length);
        GenerationConfig config = MedQA.ASK_DEFAULTS.toBuilder()
                .temperature(0.7)
                .topP(0.9)
                .maxNewTokens(6)
                .seed(11)
                .build();
        try (MedQA medqa = MedQA.builder().model(model).build()) {
            for (int i = 0; i < questions.length; i++) {
                com.fasterxml.jackson.databind.JsonNode line = ai.medqa.common.Json.MAPPER.readTree(lines.get(i));
                assertThat(line.get("id").asText()).isEqualTo("q" + i);
                assertThat(line.get("reference").asText()).isEqualTo("reference answer " + i);
                assertThat(line.get("candidate").asText())
                        .as(questions[i])
                        .isEqualTo(medqa.ask(questions[i], config).text());
                assertThat(line.has("_line")).isFalse();
            }
        }
        byte[] whole = Files.readAllBytes(answers);
        String killed = lines.get(0) + "\n" + lines.get(1) + "\n" + lines.get(2).substring(0, 20);
        Files.writeString(answers, killed);
        assertThat(ask(args)).isZero();
        assertThat(Files.readAllBytes(answers)).isEqualTo(whole);

        Path scores = tmp.resolve("scores.jsonl");
        ScoreCommand score = new ScoreCommand();
        score.err = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        assertThat(new CommandLine(score).execute("--in", answers.toString(), "--out", scores.toString()))
                .isZero();
        assertThat(Files.readAllLines(scores))
                .hasSize(questions.length)
                .allSatisfy(l -> assertThat(l).contains("squad_f1"));

        // Answers written for other questions are not continued with these.
        Path other = Files.writeString(
                tmp.resolve("other.jsonl"), "{\"question\": \"Something else?\"}\n".repeat(questions.length));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertThat(ask(err, "--model", model.toString(), "--in", other.toString(), "--out", answers.toString()))
                .isEqualTo(1);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("answer 1 is for another question than line 1");
    }

    private static int ask(String... args) {
        return ask(new ByteArrayOutputStream(), args);
    }

    private static int ask(ByteArrayOutputStream err, String... args) {
        AskCommand cmd = new AskCommand();
        cmd.out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(err, true, StandardCharsets.UTF_8);
        CommandLine cli = new CommandLine(cmd);
        cli.setErr(new java.io.PrintWriter(cmd.err, true));
        cli.setExecutionExceptionHandler((e, c, p) -> {
            cmd.err.println("medqa: error: " + e.getMessage());
            return 1;
        });
        return cli.execute(args);
    }

    /** --stop ends the answer where the text first contains it (the same answer, cut short). */
    @Test
    void askStopsAtAStopString() {
        String whole = askOut("--temperature", "0", "--max-new-tokens", "24", "Is aspirin an NSAID?");
        assertThat(whole.length()).isGreaterThan(12);
        String stop = whole.substring(6, 9);
        String cut = askOut("--temperature", "0", "--max-new-tokens", "24", "--stop", stop, "Is aspirin an NSAID?");
        assertThat(cut.length()).isLessThan(whole.length());
        assertThat(whole).startsWith(cut);
    }

    private static String askOut(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AskCommand cmd = new AskCommand();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        java.util.List<String> all = new java.util.ArrayList<>(java.util.List.of("--model", model.toString()));
        all.addAll(java.util.List.of(args));
        assertThat(new CommandLine(cmd).execute(all.toArray(String[]::new))).isZero();
        return out.toString(StandardCharsets.UTF_8).strip();
    }

    @Test
    void askReadsTheQuestionFromStandardInputOrAFile(@TempDir Path tmp) throws Exception {
        String question = "Is aspirin an NSAID? \u00b5g/mL \u03b2-blockers";
        String[] answers = new String[2];
        Path file = tmp.resolve("q.txt");
        Files.writeString(file, question + "\n", StandardCharsets.UTF_8);
        for (int i = 0; i < 2; i++) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            AskCommand cmd = new AskCommand();
            cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
            cmd.err = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
            cmd.in = new java.io.ByteArrayInputStream((question + "\n").getBytes(StandardCharsets.UTF_8));
            int code = new CommandLine(cmd)
                    .execute(
                            "--model",
                            model.toString(),
                            "--temperature",
                            "0",
                            "--max-new-tokens",
                            "8",
                            "--prompt-file",
                            i == 0 ? "-" : file.toString());
            assertThat(code).isZero();
            answers[i] = out.toString(StandardCharsets.UTF_8);
        }
        try (MedQA medqa = MedQA.builder().model(model).build()) {
            String expected = medqa.ask(
                            question,
                            MedQA.ASK_DEFAULTS.toBuilder()
                                    .temperature(0)
                                    .maxNewTokens(8)
                                    .build())
                    .text();
            assertThat(answers).containsOnly(expected + System.lineSeparator());
        }
    }

    @Test
    void nonUtf8InputNamesTheFileAndLine(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("latin1.txt");
        Files.write(file, "first line\nsecond line\ncaf\u00e9 au lait\n".getBytes(StandardCharsets.ISO_8859_1));
        AskCommand cmd = new AskCommand();
        java.io.StringWriter err = new java.io.StringWriter();
        CommandLine cli = new CommandLine(cmd);
        cli.setErr(new java.io.PrintWriter(err, true));
        cli.setExecutionExceptionHandler((e, c, p) -> {
            c.getErr().println(e.getMessage());
            return 1;
        });
        assertThat(cli.execute("--model", model.toString(), "--prompt-file", file.toString()))
                .isEqualTo(1);
        assertThat(err.toString()).contains(file.toString()).contains("line 3").contains("UTF-8");
    }

    @Test
    void chatSurvivesAMessageTooLongForTheContext(@TempDir Path tmp) throws Exception {
        Path saved = tmp.resolve("conversation.json");
        String huge = "aspirin ".repeat(2000); // ~2,000 tokens; the model holds 1,024 positions
        String input = "What is metformin?\n" + huge + "\nAnd its side effects?\n/save " + saved + "\n/exit\n";
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ChatCommand cmd = new ChatCommand();
        cmd.in = new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8));
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        int code = new CommandLine(cmd)
                .execute("--model", model.toString(), "--temperature", "0", "--max-new-tokens", "6");
        assertThat(code).isZero();
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text)
                .contains("characters not sent")
                .contains("prompt tokens fit")
                .contains("The conversation is unchanged");
        // The two short questions and their answers were kept; the long one was not.
        com.fasterxml.jackson.databind.JsonNode turns = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(saved.toFile())
                .get("turns");
        assertThat(turns).hasSize(4);
        assertThat(turns.get(2).get("content").asText()).isEqualTo("And its side effects?");
    }

    @Test
    void chatKeepsTheHistoryAcrossTurnsAndSaves(@TempDir Path tmp) {
        Path saved = tmp.resolve("conversation.json");
        String input = "What is metformin?\nAnd its side effects?\n/save " + saved + "\n/exit\n";
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ChatCommand cmd = new ChatCommand();
        cmd.in = new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8));
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        int code = new CommandLine(cmd)
                .execute("--model", model.toString(), "--temperature", "0", "--max-new-tokens", "6");
        assertThat(code).isZero();
        Conversation c = Conversation.load(saved);
        assertThat(c.messages())
                .extracting(m -> m.role().jsonName())
                .containsExactly("system", "user", "assistant", "user", "assistant");
        assertThat(out.toString(StandardCharsets.UTF_8))
                .contains(c.messages().get(2).content())
                .contains(c.messages().get(4).content())
                .contains("saved " + saved);
    }

    /** Lines starting with / are commands, answered by the chat itself; none reaches the model. */
    @Test
    void chatCommandsAreAnsweredNotSentToTheModel(@TempDir Path tmp) {
        Path saved = tmp.resolve("c.json");
        String input =
                "/help\n/bogus\n/save\nWhat is metformin?\n/reset\n//etc is a folder\n/save " + saved + "\n/exit\n";
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ChatCommand cmd = new ChatCommand();
        cmd.in = new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8));
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        assertThat(new CommandLine(cmd)
                        .execute("--model", model.toString(), "--temperature", "0", "--max-new-tokens", "4"))
                .isZero();
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text)
                .startsWith("medqa chat: ")
                .contains("/help for commands")
                .contains(ChatCommand.HELP)
                .contains("(unknown command /bogus;")
                .contains("(/save needs a file: /save FILE)")
                .contains("(conversation cleared)")
                .contains("saved " + saved);
        // After /reset only "/etc is a folder" (sent with its leading / kept) and its answer remain.
        Conversation c = Conversation.load(saved);
        assertThat(c.messages()).extracting(m -> m.role().jsonName()).containsExactly("system", "user", "assistant");
        assertThat(c.messages().get(1).content()).isEqualTo("/etc is a folder");
    }
}
