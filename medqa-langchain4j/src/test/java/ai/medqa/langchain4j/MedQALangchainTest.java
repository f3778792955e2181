package ai.medqa.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.MedQA;
import ai.medqa.chat.Message;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.server.MedQAServer;
import ai.medqa.server.ServerOptions;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** langchain4j's chat interfaces over an in-process MedQA, and langchain4j's OpenAI client against `medqa serve`. */
class MedQALangchainTest {
    static final Path TOKENIZERS = Path.of("../medqa-core/src/test/resources/tokenizer");

    @TempDir
    static Path dir;

    static MedQA medqa;
    static final GenerationConfig DEFAULTS =
            GenerationConfig.sampling().toBuilder().seed(11).maxNewTokens(30).build();

    @BeforeAll
    static void load() throws Exception {
        RandomCheckpoint.write(dir, RandomCheckpoint.config(32, 64, 2, 4, 2, 32000, 2048, 0), DType.F32, 13);
        Files.copy(TOKENIZERS.resolve("mistral-7b-v0.1/tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.copy(
                TOKENIZERS.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"),
                dir.resolve("tokenizer_config.json"));
        medqa = MedQA.builder().model(dir).build();
    }

    @AfterAll
    static void close() {
        medqa.close();
    }

    static final List<Message> CONVERSATION = List.of(
            Message.system("Be brief."),
            Message.user("What is warfarin?"),
            Message.assistant("An anticoagulant."),
            Message.user("And its antidote?"));

    static ChatRequest request() {
        return ChatRequest.builder()
                .messages(
                        SystemMessage.from("Be brief."),
                        UserMessage.from("What is warfarin?"),
                        AiMessage.from("An anticoagulant."),
                        UserMessage.from("And its antidote?"))
                .temperature(0.8)
                .topP(0.9)
                .topK(40)
                .maxOutputTokens(24)
                .build();
    }

    static String direct() {
        GenerationConfig config = DEFAULTS.toBuilder()
                .temperature(0.8)
                .topP(0.9)
                .topK(40)
                .maxNewTokens(24)
                .build();
        return medqa.generate(medqa.chatTemplate().encode(CONVERSATION), config).text();
    }

    @Test
    void chatModelMapsMessagesAndParametersAndReportsUsage() {
        try (MedQAChatModel model = MedQAChatModel.of(medqa, DEFAULTS, "tiny")) {
            ChatResponse r = model.chat(request());
            assertThat(r.aiMessage().text()).isEqualTo(direct()).isNotEmpty();
            int prompt = medqa.chatTemplate().encode(CONVERSATION).length;
            assertThat(r.tokenUsage().inputTokenCount()).isEqualTo(prompt);
            assertThat(r.tokenUsage().totalTokenCount())
                    .isEqualTo(prompt + r.tokenUsage().outputTokenCount());
            assertThat(r.finishReason())
                    .isEqualTo(r.tokenUsage().outputTokenCount() == 24 ? FinishReason.LENGTH : FinishReason.STOP);
            // A stop sequence taken from the answer itself ends it there.
            String stop = r.aiMessage().text().substring(3, 6);
            ChatResponse stopped = model.chat(
                    request().toBuilder().stopSequences(List.of(stop)).build());
            assertThat(stopped.aiMessage().text())
                    .isEqualTo(r.aiMessage()
                            .text()
                            .substring(0, r.aiMessage().text().indexOf(stop)));
            assertThat(stopped.finishReason()).isEqualTo(FinishReason.STOP);
            assertThat(model.chat("Is aspirin an NSAID?")).isNotNull();
        }
    }

    @Test
    void streamingModelGivesTheSameTextInPieces() throws Exception {
        try (MedQAStreamingChatModel model = MedQAStreamingChatModel.of(medqa, DEFAULTS, "tiny")) {
            Collector collector = new Collector();
            model.chat(request(), collector);
            ChatResponse r = collector.done.get(60, TimeUnit.SECONDS);
            assertThat(collector.pieces.toString())
                    .isEqualTo(r.aiMessage().text())
                    .isEqualTo(direct());
            assertThat(r.tokenUsage().outputTokenCount()).isPositive();
        }
    }

    @Test
    void anUnknownModelNameIsRefused() {
        try (MedQAChatModel model = MedQAChatModel.of(medqa)) {
            assertThatThrownBy(() ->
                            model.chat(request().toBuilder().modelName("nope").build()))
                    .hasMessageContaining("nope");
        }
    }

    @Test
    void langchainsOwnOpenAiClientWorksAgainstMedqaServe() throws Exception {
        try (MedQAServer server =
                MedQAServer.start(ServerOptions.defaults("tiny").withPort(0).withApiKey("k"), medqa)) {
            OpenAiChatModel openAi = OpenAiChatModel.builder()
                    .baseUrl(server.url() + "/v1")
                    .apiKey("k")
                    .modelName("tiny")
                    .temperature(0.0)
                    .maxTokens(12)
                    .build();
            ChatResponse r = openAi.chat(ChatRequest.builder()
                    .messages(UserMessage.from("Is aspirin an NSAID?"))
                    .build());
            String greedy = medqa.generate(
                            medqa.chatTemplate().encode(List.of(Message.user("Is aspirin an NSAID?"))),
                            GenerationConfig.greedy().toBuilder()
                                    .maxNewTokens(12)
                                    .build())
                    .text();
            assertThat(r.aiMessage().text()).isEqualTo(greedy);
            assertThat(r.tokenUsage().outputTokenCount()).isPositive();

            OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder()
                    .baseUrl(server.url() + "/v1")
                    .apiKey("k")
                    .modelName("tiny")
                    .temperature(0.0)
                    .maxTokens(12)
                    .build();
            Collector collector = new Collector();
            streaming.chat("Is aspirin an NSAID?", collector);
            assertThat(collector.done.get(60, TimeUnit.SECONDS).aiMessage().text())
                    .isEqualTo(greedy);
            assertThat(collector.pieces.toString()).isEqualTo(greedy);
        }
    }

    /** Collects a streamed answer. */
    static final class Collector implements StreamingChatResponseHandler {
        final StringBuilder pieces = new StringBuilder();
        final CompletableFuture<ChatResponse> done = new CompletableFuture<>();

        @Override
        public void onPartialResponse(String partial) {
            pieces.append(partial);
        }

        @Override
        public void onCompleteResponse(ChatResponse response) {
            done.complete(response);
        }

        @Override
        public void onError(Throwable error) {
            done.completeExceptionally(error);
        }
    }
}
