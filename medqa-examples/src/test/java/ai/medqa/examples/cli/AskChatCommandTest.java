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
        Files.copy(TOKENIZERS.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"),
                model.resolve("tokenizer_config.json"));
    }

    @Test
    void askStreamsTheSameAnswerAsTheApi() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AskCommand cmd = new AskCommand();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        int code = new CommandLine(cmd).execute("--model", model.toString(), "--temperature", "0.5", "--top-p", "0.9",
                "--top-k", "20", "--repetition-penalty", "1.1", "--max-new-tokens", "12", "--seed", "3",
                "--system", "Be brief.", "Is aspirin an NSAID?");
        assertThat(code).isZero();
        GenerationConfig config = MedQA.ASK_DEFAULTS.toBuilder().temperature(0.5).topP(0.9).topK(20)
                .repetitionPenalty(1.1).maxNewTokens(12).seed(3).build();
        try (MedQA medqa = MedQA.builder().model(model).systemPrompt("Be brief.").build()) {
            String expected = medqa.ask("Is aspirin an NSAID?", config).text();
            assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(expected + System.lineSeparator());
        }
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
            int code = new CommandLine(cmd).execute("--model", model.toString(), "--temperature", "0",
                    "--max-new-tokens", "8", "--prompt-file", i == 0 ? "-" : file.toString());
            assertThat(code).isZero();
            answers[i] = out.toString(StandardCharsets.UTF_8);
        }
        try (MedQA medqa = MedQA.builder().model(model).build()) {
            String expected = medqa.ask(question, MedQA.ASK_DEFAULTS.toBuilder().temperature(0).maxNewTokens(8).build()).text();
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
        assertThat(cli.execute("--model", model.toString(), "--prompt-file", file.toString())).isEqualTo(1);
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
        int code = new CommandLine(cmd).execute("--model", model.toString(), "--temperature", "0", "--max-new-tokens", "6");
        assertThat(code).isZero();
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("characters not sent").contains("prompt tokens fit").contains("The conversation is unchanged");
        // The two short questions and their answers were kept; the long one was not.
        com.fasterxml.jackson.databind.JsonNode turns = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(saved.toFile()).get("turns");
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
        int code = new CommandLine(cmd).execute("--model", model.toString(), "--temperature", "0",
                "--max-new-tokens", "6");
        assertThat(code).isZero();
        Conversation c = Conversation.load(saved);
        assertThat(c.messages()).extracting(m -> m.role().jsonName())
                .containsExactly("system", "user", "assistant", "user", "assistant");
        assertThat(out.toString(StandardCharsets.UTF_8)).contains(c.messages().get(2).content())
                .contains(c.messages().get(4).content()).contains("saved " + saved);
    }
}
