package ai.medqa.springai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.MedQA;
import ai.medqa.chat.SyntheticV03;
import ai.medqa.chat.Tools;
import ai.medqa.common.Json;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.ToolResponseMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.support.ToolCallbacks;

/**
 * With a model whose template renders tools (the synthetic Mistral v0.3 tokenizer of medqa-core's
 * tests), Spring AI's tool calls and tool responses reach the template as structured calls and
 * results: the prompt has as many tokens as the native encoding, a call id that template refuses (not
 * 9 letters and digits) is refused by it, and the answer parses.
 */
class NativeToolsSpringTest {
    @TempDir
    static Path dir;

    static MedQA medqa;
    static MedQAChatModel model;

    @BeforeAll
    static void load() {
        int vocab = SyntheticV03.write(dir);
        RandomCheckpoint.write(dir, RandomCheckpoint.config(32, 64, 2, 4, 2, vocab, 2048, 0), DType.F32, 29);
        medqa = MedQA.builder().model(dir).build();
        model = MedQAChatModel.builder(medqa)
                .defaults(GenerationConfig.greedy().toBuilder().maxNewTokens(16).build())
                .build();
    }

    @AfterAll
    static void close() {
        model.close();
        medqa.close();
    }

    private static Prompt prompt(String callId) {
        List<Message> messages = List.of(
                new UserMessage("Usual dose of aspirin?"),
                AssistantMessage.builder()
                        .content("")
                        .toolCalls(List.of(new AssistantMessage.ToolCall(
                                callId, "function", "usualDose", "{\"drug\": \"aspirin\"}")))
                        .build(),
                ToolResponseMessage.builder()
                        .responses(List.of(new ToolResponseMessage.ToolResponse(callId, "usualDose", "81")))
                        .build());
        return new Prompt(
                messages,
                MedQAChatOptions.builder()
                        .toolCallbacks(ToolCallbacks.from(new MedQAChatModelTest.Pharmacy()))
                        .build());
    }

    @Test
    void callsAndResultsReachTheTemplateAsSuch() throws Exception {
        ChatResponse r = model.call(prompt("a1B2c3D4e"));
        assertThat(r.getResult().getMetadata().getFinishReason()).isIn("STOP", "LENGTH", "TOOL_CALLS");
        // The prompt was the template's own rendering of the tool, the call and its result.
        Tools tools = Tools.of(
                List.of(new Tools.Tool(
                        "usualDose",
                        "The usual adult dose of a drug, in mg",
                        Json.MAPPER.readTree(ToolCallbacks.from(new MedQAChatModelTest.Pharmacy())[0]
                                .getToolDefinition()
                                .inputSchema()))),
                Tools.Choice.AUTO,
                null);
        List<ai.medqa.chat.Message> asked = List.of(
                ai.medqa.chat.Message.user("Usual dose of aspirin?"),
                ai.medqa.chat.Message.toolCalls(List.of(new Tools.Call(
                        "a1B2c3D4e", "usualDose", Json.MAPPER.createObjectNode().put("drug", "aspirin")))),
                ai.medqa.chat.Message.toolResult("a1B2c3D4e", "81"));
        assertThat(r.getMetadata().getUsage().getPromptTokens())
                .isEqualTo(tools.forTemplate(medqa.chatTemplate()).encode(medqa.chatTemplate(), asked).length);
        // The v0.3 template checks call ids itself: it got this one as a call, not as text.
        assertThatThrownBy(() -> model.call(prompt("call12345678"))).hasMessageContaining("length 9");
    }
}
