package ai.medqa.springai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.MedQA;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.ai.chat.client.AdvisorParams;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.SystemMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.tool.annotation.Tool;

/**
 * Spring AI's ChatModel and ChatClient over an in-process MedQA (random weights, Mistral's
 * tokenizer and template): the same tokens as the library's own call, streaming that joins to them,
 * native structured output into a record and a tool round trip through ChatClient's tool advisor.
 */
class MedQAChatModelTest {
    static final Path TOKENIZERS = Path.of("../medqa-core/src/test/resources/tokenizer");

    @TempDir
    static Path dir;

    static MedQA medqa;
    static MedQAChatModel model;
    static final GenerationConfig DEFAULTS =
            GenerationConfig.greedy().toBuilder().maxNewTokens(24).build();

    @BeforeAll
    static void load() throws Exception {
        RandomCheckpoint.write(dir, RandomCheckpoint.config(32, 64, 2, 4, 2, 32000, 2048, 0), DType.F32, 13);
        Files.copy(TOKENIZERS.resolve("mistral-7b-v0.1/tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.copy(
                TOKENIZERS.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"),
                dir.resolve("tokenizer_config.json"));
        medqa = MedQA.builder().model(dir).build();
        model = MedQAChatModel.builder(medqa).defaults(DEFAULTS).build();
    }

    @AfterAll
    static void close() {
        model.close();
        medqa.close();
    }

    static String direct(List<ai.medqa.chat.Message> messages, GenerationConfig config) {
        return medqa.generate(medqa.chatTemplate().encode(messages), config).text();
    }

    @Test
    void callsAndStreamsTheLibrarysAnswer() {
        String expected = direct(
                List.of(
                        ai.medqa.chat.Message.system("Be brief."),
                        ai.medqa.chat.Message.user("What is warfarin?"),
                        ai.medqa.chat.Message.assistant("An anticoagulant."),
                        ai.medqa.chat.Message.user("And its antidote?")),
                DEFAULTS);
        Prompt prompt = new Prompt(List.of(
                new SystemMessage("Be brief."),
                new UserMessage("What is warfarin?"),
                new AssistantMessage("An anticoagulant."),
                new UserMessage("And its antidote?")));
        ChatResponse response = model.call(prompt);
        assertThat(response.getResult().getOutput().getText())
                .isEqualTo(expected)
                .isNotEmpty();
        assertThat(response.getResult().getMetadata().getFinishReason()).isIn("STOP", "LENGTH");
        assertThat(response.getMetadata().getUsage().getCompletionTokens()).isPositive();
        assertThat(response.getMetadata().getModel()).isEqualTo("medqa");

        List<ChatResponse> pieces = model.stream(prompt).collectList().block();
        StringBuilder joined = new StringBuilder();
        pieces.forEach(p -> joined.append(p.getResult().getOutput().getText()));
        assertThat(joined.toString()).isEqualTo(expected);
        assertThat(pieces).hasSizeGreaterThan(2);
        assertThat(pieces.get(pieces.size() - 1).getMetadata().getUsage().getTotalTokens())
                .isPositive();

        // Sampling options, through ChatClient: the library's answer with the same settings.
        GenerationConfig sampled = DEFAULTS.toBuilder()
                .doSample(true)
                .temperature(0.8)
                .topP(0.9)
                .topK(40)
                .seed(7)
                .maxNewTokens(16)
                .build();
        String client = ChatClient.create(model)
                .prompt()
                .user("What is warfarin?")
                .options(MedQAChatOptions.builder()
                        .temperature(0.8)
                        .topP(0.9)
                        .topK(40)
                        .seed(7L)
                        .maxTokens(16))
                .call()
                .content();
        assertThat(client).isEqualTo(direct(List.of(ai.medqa.chat.Message.user("What is warfarin?")), sampled));
    }

    record Dose(String drug, int milligrams, List<String> warnings) {}

    @Test
    void entityIntoARecordWithNativeStructuredOutput() {
        Dose dose = ChatClient.create(model)
                .prompt()
                .user("What dose of aspirin?")
                .options(MedQAChatOptions.builder().maxTokens(200))
                .advisors(AdvisorParams.ENABLE_NATIVE_STRUCTURED_OUTPUT)
                .call()
                .entity(Dose.class);
        assertThat(dose).isNotNull();
        assertThat(dose.drug()).isNotNull();
        assertThat(dose.warnings()).isNotNull();
    }

    static final class Pharmacy {
        final AtomicInteger calls = new AtomicInteger();

        @Tool(description = "The usual adult dose of a drug, in mg")
        int usualDose(String drug) {
            calls.incrementAndGet();
            return 81;
        }
    }

    @Test
    void toolsAreCalledThroughChatClient() {
        Pharmacy pharmacy = new Pharmacy();
        // Random weights call the tool or reply as they please: the call must be well-formed either way,
        // and over a few seeds the tool is called at least once and the loop ends with a reply.
        int replies = 0;
        for (long seed = 1; seed <= 4; seed++) {
            String answer = ChatClient.create(model)
                    .prompt()
                    .user("Usual dose of aspirin?")
                    .tools(pharmacy)
                    .options(MedQAChatOptions.builder()
                            .temperature(1.0)
                            .seed(seed)
                            .maxTokens(120))
                    .call()
                    .content();
            if (answer != null) {
                replies++;
            }
        }
        assertThat(pharmacy.calls.get()).isPositive();
        assertThat(replies).isPositive();
    }

    /** With tools, a reply streams piece by piece (the same text as the call's); calls come whole at the end. */
    @Test
    void withToolsAReplyStreams() {
        boolean replied = false;
        boolean called = false;
        for (long seed = 1; seed <= 8 && !(replied && called); seed++) {
            Prompt prompt = new Prompt(
                    List.of(new UserMessage("Usual dose of aspirin?")),
                    MedQAChatOptions.builder()
                            .toolCallbacks(org.springframework.ai.support.ToolCallbacks.from(new Pharmacy()))
                            .temperature(1.0)
                            .seed(seed)
                            .maxTokens(120)
                            .build());
            ChatResponse whole = model.call(prompt);
            List<ChatResponse> pieces = model.stream(prompt).collectList().block();
            ChatResponse last = pieces.get(pieces.size() - 1);
            if (whole.hasToolCalls()) {
                called = true;
                assertThat(last.getResult().getOutput().getToolCalls())
                        .hasSameSizeAs(whole.getResult().getOutput().getToolCalls());
                assertThat(last.getResult().getMetadata().getFinishReason()).isEqualTo("TOOL_CALLS");
            } else if (whole.getResult().getMetadata().getFinishReason().equals("STOP")) {
                replied = true;
                StringBuilder joined = new StringBuilder();
                pieces.forEach(p -> joined.append(p.getResult().getOutput().getText()));
                assertThat(joined.toString())
                        .isEqualTo(whole.getResult().getOutput().getText());
                assertThat(pieces).hasSizeGreaterThan(2);
            }
        }
        assertThat(replied && called)
                .as("over 8 seeds, both a reply and a call")
                .isTrue();
    }

    @Test
    void badOptionsAreNamed() {
        assertThatThrownBy(() -> model.call(new Prompt(
                        "hi", MedQAChatOptions.builder().model("nope").build())))
                .hasMessageContaining("model nope is neither this model (medqa) nor one of its adapters");
        assertThatThrownBy(() -> model.call(new Prompt(
                        "hi", MedQAChatOptions.builder().frequencyPenalty(0.5).build())))
                .hasMessageContaining("frequencyPenalty");
    }
}
