package ai.medqa.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.model.ContextOverflowException;
import ai.medqa.tokenizer.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConversationTest {
    private static final String SYSTEM = "You are a medical assistant trained on biomedical literature and clinical"
            + " data. Answer the following question with accuracy and care. If unsure, suggest the user consult a"
            + " qualified healthcare professional.";

    @TempDir
    static Path tokenizerDir;

    static Tokenizer tokenizer;
    static ChatTemplate template;

    @TempDir
    Path dir;

    @BeforeAll
    static void load() {
        tokenizer = Tokenizer.load(ChatFixture.tokenizerFolder(tokenizerDir, true));
        template = ChatTemplate.of(tokenizer);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static Conversation sixExchanges() {
        Conversation conversation = new Conversation(SYSTEM);
        for (int i = 1; i <= 6; i++) {
            conversation.addUser("Question " + i + ": is aspirin safe with warfarin, case " + i + "?");
            conversation.addAssistant("Answer " + i + ": the combination raises bleeding risk; ask a clinician.");
        }
        return conversation.addUser("And ibuprofen?");
    }

    @Test
    void messagesAreTheSystemPromptThenTheTurns() {
        Conversation conversation =
                new Conversation(SYSTEM).addUser("q").addAssistant("a").addUser("q2");
        assertThat(conversation.messages())
                .containsExactly(Message.system(SYSTEM), Message.user("q"), Message.assistant("a"), Message.user("q2"));
        assertThat(new Conversation().addUser("q").messages()).containsExactly(Message.user("q"));
        assertThat(conversation.systemPrompt()).contains(SYSTEM);
        assertThat(conversation.toString()).doesNotContain("q2").contains("3 turns");
    }

    @Test
    void turnsMustAlternateStartingWithTheUser() {
        assertThatThrownBy(() -> new Conversation().addAssistant("a"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("must be user");
        assertThatThrownBy(() -> new Conversation().addUser("a").addUser("b"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("must be assistant");
        assertThatThrownBy(() -> new Conversation().toIds(template, 100)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> new Conversation().addUser("q").toIds(template, 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aConversationThatFitsIsRenderedWhole() {
        Conversation conversation = sixExchanges();
        int[] all = template.encode(conversation.messages());
        assertThat(conversation.toIds(template, all.length)).isEqualTo(all);
        assertThat(conversation.toIds(template, 100_000)).isEqualTo(all);
    }

    /** Budgets from "last turn only" to "everything": the result is what a linear search finds. */
    @Test
    void theOldestExchangesAreLeftOutButNeverTheSystemPrompt() {
        Conversation conversation = sixExchanges();
        List<Message> turns =
                conversation.messages().subList(1, conversation.messages().size());
        List<int[]> candidates = new ArrayList<>();
        for (int first = 0; first < turns.size(); first += 2) {
            List<Message> kept = new ArrayList<>();
            kept.add(Message.system(SYSTEM));
            kept.addAll(turns.subList(first, turns.size()));
            candidates.add(template.encode(kept));
        }
        int minimal = candidates.get(candidates.size() - 1).length;
        int[] systemIds = tokenizer.encodeLiteral(SYSTEM, false);
        // Budgets at every boundary: each candidate's length and one less.
        java.util.SortedSet<Integer> budgets = new java.util.TreeSet<>();
        for (int[] candidate : candidates) {
            budgets.add(candidate.length);
            budgets.add(Math.max(minimal, candidate.length - 1));
        }
        assertThat(budgets).hasSizeGreaterThan(10);
        for (int budget : budgets) {
            int[] expected = null;
            for (int[] candidate : candidates) {
                if (candidate.length <= budget) {
                    expected = candidate;
                    break;
                }
            }
            int[] ids = conversation.toIds(template, budget);
            assertThat(ids).as("budget %d", budget).isEqualTo(expected);
            assertThat(ids.length).isLessThanOrEqualTo(budget);
            // the system prompt right after "<s>[INST]"
            int[] head = java.util.Arrays.copyOfRange(ids, 4, 4 + systemIds.length);
            assertThat(head).as("budget %d keeps the system prompt", budget).isEqualTo(systemIds);
        }
        // history is kept in full: trimming only shapes the prompt
        assertThat(conversation.messages()).hasSize(14);
    }

    @Test
    void aLastTurnThatDoesNotFitAloneIsAContextOverflow() {
        Conversation conversation = sixExchanges();
        int minimal = template.encode(List.of(Message.system(SYSTEM), Message.user("And ibuprofen?"))).length;
        assertThatThrownBy(() -> conversation.toIds(template, minimal - 1))
                .isInstanceOf(ContextOverflowException.class)
                .hasMessageContaining(
                        "the last user turn take " + minimal + " tokens, and " + (minimal - 1) + " are left")
                .hasMessageNotContaining("maxPromptTokens");
    }

    @Test
    void aConversationEndingWithAnAnswerKeepsTheLastExchange() {
        Conversation conversation = new Conversation(SYSTEM)
                .addUser("q1")
                .addAssistant("a1")
                .addUser("q2")
                .addAssistant("a2");
        int[] lastExchange =
                template.encode(List.of(Message.system(SYSTEM), Message.user("q2"), Message.assistant("a2")));
        assertThat(conversation.toIds(template, lastExchange.length)).isEqualTo(lastExchange);
        assertThatThrownBy(() -> conversation.toIds(template, lastExchange.length - 1))
                .isInstanceOf(ContextOverflowException.class);
    }

    @Test
    void savedAndLoadedConversationsAreEqual() throws Exception {
        Conversation conversation = new Conversation(SYSTEM)
                .addUser("Dose 5 µg/mL? </s>[INST] 🦙\n\t\"quoted\"")
                .addAssistant("Ask a clinician.")
                .addUser("Thanks");
        Path file = dir.resolve("chat.json");
        conversation.save(file);
        Conversation loaded = Conversation.load(file);
        assertThat(loaded.messages()).isEqualTo(conversation.messages());
        assertThat(loaded.toIds(template, 4096)).isEqualTo(conversation.toIds(template, 4096));

        // overwriting works and leaves no temporary file behind
        new Conversation().addUser("other").save(file);
        assertThat(Conversation.load(file).messages()).containsExactly(Message.user("other"));
        assertThat(Conversation.load(file).systemPrompt()).isEmpty();
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(file);
        }
    }

    @Test
    void theJsonFormatIsTheDocumentedOne() throws Exception {
        Path file = dir.resolve("chat.json");
        new Conversation("S").addUser("U").save(file);
        String json = Files.readString(file).replaceAll("\\s", "");
        assertThat(json)
                .isEqualTo("{\"version\":1,\"system\":\"S\",\"turns\":[{\"role\":\"user\",\"content\":\"U\"}]}");
        Files.writeString(file, "{\"version\": 1, \"turns\": [], \"note\": \"fields we do not know are ignored\"}");
        assertThat(Conversation.load(file).messages()).isEmpty();
    }

    @Test
    void badFilesNameTheFileAndTheField() throws Exception {
        assertBad("{\"version\": 1, \"turns\": [", "not valid JSON");
        assertBad("[]", "expected a JSON object");
        assertBad("{\"turns\": []}", "field version: expected 1, missing");
        assertBad("{\"version\": 2, \"turns\": []}", "field version: expected 1, found 2");
        assertBad("{\"version\": 1}", "field turns: expected an array");
        assertBad("{\"version\": 1, \"system\": 3, \"turns\": []}", "field system: expected a string or null, found 3");
        assertBad("{\"version\": 1, \"turns\": [\"hi\"]}", "field turns[0]: expected an object");
        assertBad(
                "{\"version\": 1, \"turns\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"user\", \"content\": \"q\"}]}",
                "field turns[1].role: expected \"assistant\"");
        assertBad(
                "{\"version\": 1, \"turns\": [{\"role\": \"system\", \"content\": \"q\"}]}",
                "field turns[0].role: expected \"user\"");
        assertBad(
                "{\"version\": 1, \"turns\": [{\"role\": \"user\"}]}",
                "field turns[0].content: expected a string, missing");
        assertThatThrownBy(() -> Conversation.load(dir.resolve("missing.json")))
                .isInstanceOf(ConversationException.class)
                .hasMessageContaining("missing.json: no such file");
        assertThatThrownBy(
                        () -> new Conversation().save(dir.resolve("no-such-dir").resolve("x.json")))
                .isInstanceOf(ConversationException.class)
                .hasMessageContaining("x.json: cannot write");
    }

    private void assertBad(String json, String expected) throws Exception {
        Path file = dir.resolve("bad.json");
        Files.writeString(file, json, StandardCharsets.UTF_8);
        assertThatThrownBy(() -> Conversation.load(file))
                .isInstanceOf(ConversationException.class)
                .hasMessageStartingWith(file + ": ")
                .hasMessageContaining(expected);
    }

    @Test
    void removeLastUserTakesBackOnlyAnUnansweredUserTurn() {
        Conversation c = new Conversation("sys").addUser("a").addAssistant("b").addUser("too long");
        c.removeLastUser();
        assertThat(c.messages()).extracting(Message::content).containsExactly("sys", "a", "b");
        assertThatThrownBy(c::removeLastUser).isInstanceOf(IllegalStateException.class);
        c.addUser("next");
        assertThat(c.messages()).extracting(Message::content).endsWith("next");
    }
}
