package ai.medqa.finetune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading, templates, the prompt/completion boundary, padding labels and truncation, on the real tokenizer. */
class DataTest {
    private static Tokenizer tok;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() {
        tok = Tokenizer.load(TestModels.tokenizerDir());
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    private static final Example EXAMPLE = new Example(
            "1",
            "Does aspirin reduce fever?",
            List.of("Aspirin is an antipyretic.", "It was tested in 40 patients."),
            "Yes, aspirin reduced fever.");

    @Test
    void officialTestSplitIsHeldOutUnlessAsked() {
        TrainingData.Loaded kept = TrainingData.load(TestModels.pubmedSubset(), false);
        assertThat(kept.pubMedQa()).isTrue();
        assertThat(kept.examples()).hasSize(300);
        assertThat(kept.heldOutTest()).isEqualTo(20);
        var testIds =
                ai.medqa.metrics.pubmedqa.PubMedQaSplit.officialTestLabels().keySet();
        assertThat(kept.examples()).noneMatch(e -> testIds.contains(e.id()));
        assertThat(TrainingData.load(TestModels.pubmedSubset(), true).examples())
                .hasSize(320);
    }

    /** A bad data file is reported before the model loads: here there is no model at all, and the error is the data's. */
    @Test
    void aBadDataFileIsReportedBeforeTheModelLoads() throws IOException {
        Path data =
                Files.writeString(tmp.resolve("pairs.jsonl"), "{\"prompt\": \"q\", \"completion\": \"a\"}\nnot json\n");
        assertThatThrownBy(() -> FineTune.builder()
                        .model(tmp.resolve("no-model-here"))
                        .data(data)
                        .output(tmp.resolve("out"))
                        .build()
                        .run())
                .hasMessageContaining("pairs.jsonl")
                .hasMessageContaining("line 2")
                .hasMessageNotContaining("no-model-here");
    }

    @Test
    void jsonLinesPairs() throws IOException {
        Path f = tmp.resolve("pairs.jsonl");
        Files.writeString(
                f,
                "{\"prompt\": \"Q: 2+2?\\nA:\", \"completion\": \" 4\"}\n\n{\"prompt\": \"x\", \"completion\": \"y\"}\n");
        TrainingData.Loaded l = TrainingData.load(f, false);
        assertThat(l.pubMedQa()).isFalse();
        assertThat(l.examples())
                .containsExactly(Example.pair("line 1", "Q: 2+2?\nA:", " 4"), Example.pair("line 3", "x", "y"));
        Files.writeString(f, "{\"prompt\": \"x\", \"completion\": \"y\"}\n{\"prompt\": \"x\"}\n");
        assertThatThrownBy(() -> TrainingData.load(f, false))
                .hasMessageContaining("line 2")
                .hasMessageContaining("completion");
    }

    @Test
    void templatesRenderTheDocumentedText() {
        PromptTemplate.Rendered chat =
                PromptTemplate.mistralChat().withContexts(true).render(EXAMPLE);
        assertThat(chat.prompt() + chat.completion())
                .isEqualTo("[INST] " + PromptTemplate.SEED_ROLE_PROMPT
                        + "\n\nContext: Aspirin is an antipyretic. It was tested in 40 patients.\n\nQuestion: Does aspirin reduce"
                        + " fever? [/INST]Yes, aspirin reduced fever.");
        PromptTemplate.Rendered ins =
                PromptTemplate.instruction().withRolePrompt(null).render(EXAMPLE);
        assertThat(ins.prompt() + ins.completion())
                .isEqualTo("Question: Does aspirin reduce fever?\nAnswer: Yes, aspirin reduced fever.");
        assertThat(PromptTemplate.parse("chat+contexts").toString()).isEqualTo("mistral_chat+contexts");
        assertThatThrownBy(() -> PromptTemplate.parse("alpaca")).hasMessageContaining("instruction, chat or raw");
    }

    @Test
    void lossCoversExactlyTheCompletionAndEos() {
        for (PromptTemplate t : List.of(
                PromptTemplate.instruction(), PromptTemplate.mistralChat().withContexts(true), PromptTemplate.raw())) {
            PromptTemplate.Rendered r = t.render(EXAMPLE);
            TokenizedExample e = Tokenization.tokenize(tok, r, "1", 512);
            int[] ids = e.ids();
            assertThat(ids[0]).as("BOS").isEqualTo(tok.bosId());
            assertThat(ids[ids.length - 1]).as("EOS").isEqualTo(tok.eosId());
            // The whole sequence is the text tokenized in one piece, as at inference time.
            int[] whole = tok.encodeLiteral(r.prompt() + r.completion(), true);
            assertThat(Arrays.copyOf(ids, ids.length - 1)).isEqualTo(whole);
            assertThat(tok.decode(Arrays.copyOfRange(ids, 1, e.promptLength())).strip())
                    .isEqualTo(r.prompt().strip());
            assertThat(tok.decode(Arrays.copyOfRange(ids, e.promptLength(), ids.length)))
                    .isEqualTo("Yes, aspirin reduced fever.");
            assertThat(e.truncated()).isFalse();
        }
    }

    @Test
    void batchPadsOnTheRightWithIgnoredLabels() {
        TokenizedExample a = new TokenizedExample("a", new int[] {1, 5, 6, 7, 2}, 3, false, false);
        TokenizedExample b = new TokenizedExample("b", new int[] {1, 8, 2}, 2, false, false);
        Batch batch = Batch.of(List.of(a, b), 0);
        assertThat(batch.length()).isEqualTo(5);
        assertThat(batch.ids()).containsExactly(1, 5, 6, 7, 2, 1, 8, 2, 0, 0);
        int x = Batch.IGNORE;
        assertThat(batch.labels()).containsExactly(x, x, x, 7, 2, x, x, 2, x, x);
        assertThat(batch.targets()).isEqualTo(3);
        assertThat(batch.tokens()).isEqualTo(8);
    }

    @Test
    void truncationCutsContextsFirstAndKeepsTheAnswer() {
        PromptTemplate t = PromptTemplate.instruction().withContexts(true);
        String longContext = "The study enrolled many patients with various conditions. ".repeat(40);
        Example e =
                new Example("long", "Does aspirin reduce fever?", List.of(longContext), "Yes, aspirin reduced fever.");
        PromptTemplate.Rendered r = t.render(e);
        TokenizedExample full = Tokenization.tokenize(tok, r, "long", 4096);
        TokenizedExample cut = Tokenization.tokenize(tok, r, "long", 128);
        assertThat(full.ids().length).isGreaterThan(300);
        assertThat(cut.ids().length).isEqualTo(128);
        assertThat(cut.truncated()).isTrue();
        assertThat(cut.answerTruncated()).isFalse();
        int[] fullAnswer = Arrays.copyOfRange(full.ids(), full.promptLength(), full.ids().length);
        int[] cutAnswer = Arrays.copyOfRange(cut.ids(), cut.promptLength(), cut.ids().length);
        assertThat(cutAnswer).isEqualTo(fullAnswer);
        String prompt = tok.decode(Arrays.copyOf(cut.ids(), cut.promptLength()));
        assertThat(prompt)
                .startsWith(PromptTemplate.SEED_ROLE_PROMPT.substring(0, 40))
                .contains("Context: The study enrolled")
                .endsWith("Question: Does aspirin reduce fever?\nAnswer:");

        // An answer longer than the budget: the prompt keeps a quarter, the answer is cut at its end.
        Example huge = new Example("huge", "Why?", List.of(), "Because. ".repeat(200));
        TokenizedExample h = Tokenization.tokenize(tok, t.render(huge), "huge", 64);
        assertThat(h.ids().length).isEqualTo(64);
        assertThat(h.answerTruncated()).isTrue();
        assertThat(h.promptLength()).isEqualTo(16);
        assertThat(tok.decode(Arrays.copyOf(h.ids(), h.promptLength()))).endsWith("Question: Why?\nAnswer:");

        Tokenization.Result all = Tokenization.tokenize(tok, t, List.of(EXAMPLE, e, huge), 128);
        assertThat(all.stats().examples()).isEqualTo(3);
        assertThat(all.stats().truncated()).isEqualTo(2);
        assertThat(all.stats().answerTruncated()).isEqualTo(1);
        assertThat(all.stats().longest()).isEqualTo(128);
    }
}
