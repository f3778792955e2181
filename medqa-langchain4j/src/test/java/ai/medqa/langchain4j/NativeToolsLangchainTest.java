package ai.medqa.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.MedQA;
import ai.medqa.chat.SyntheticV03;
import ai.medqa.common.Json;
import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * In-process with a model whose template renders tools (the synthetic Mistral v0.3 tokenizer of
 * medqa-core's tests): a required call comes back as a tool request with a 9-character id in the
 * model's own syntax, and the request with its result goes back through the template.
 */
class NativeToolsLangchainTest {
    @TempDir
    static Path dir;

    static MedQA medqa;

    @BeforeAll
    static void load() throws Exception {
        int vocab = SyntheticV03.write(dir);
        RandomCheckpoint.write(dir, RandomCheckpoint.config(32, 64, 2, 4, 2, vocab, 2048, 0), DType.F32, 19);
        medqa = MedQA.builder().model(dir).build();
    }

    @AfterAll
    static void close() {
        medqa.close();
    }

    @Test
    void aRequiredCallInTheModelsSyntaxAndItsResultBack() {
        try (MedQAChatModel model = MedQAChatModel.of(medqa, StructuredLangchainTest.defaults(5), "tiny-v03")) {
            ChatRequest ask = ChatRequest.builder()
                    .messages(UserMessage.from("Class of metoprolol?"))
                    .toolSpecifications(StructuredLangchainTest.LOOKUP)
                    .toolChoice(ToolChoice.REQUIRED)
                    .build();
            ChatResponse r = model.chat(ask);
            assertThat(r.finishReason()).isEqualTo(FinishReason.TOOL_EXECUTION);
            ToolExecutionRequest call = r.aiMessage().toolExecutionRequests().get(0);
            assertThat(call.id()).matches("[A-Za-z0-9]{9}");
            assertThat(call.name()).isEqualTo("drug_class");
            assertThat(Json.MAPPER.readTree(call.arguments()).get("name").isTextual())
                    .isTrue();

            ChatRequest back = ChatRequest.builder()
                    .messages(
                            UserMessage.from("Class of metoprolol?"),
                            AiMessage.from(call),
                            ToolExecutionResultMessage.from(call, "beta blocker"))
                    .toolSpecifications(StructuredLangchainTest.LOOKUP)
                    .build();
            assertThat(model.chat(back).finishReason())
                    .isIn(FinishReason.STOP, FinishReason.LENGTH, FinishReason.TOOL_EXECUTION);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new AssertionError(e);
        }
    }
}
