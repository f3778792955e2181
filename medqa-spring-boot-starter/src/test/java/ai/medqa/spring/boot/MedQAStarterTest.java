package ai.medqa.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import ai.medqa.MedQA;
import ai.medqa.chat.Message;
import ai.medqa.common.Json;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.client.advisor.MessageChatMemoryAdvisor;
import org.springframework.ai.chat.memory.ChatMemory;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * An application made only of the starter and properties (a random-weight model with Mistral's
 * tokenizer and template): ChatClient gives the library's own greedy answer, streamed too; entity()
 * fills a record; the message-history advisor carries the conversation; Actuator shows MedQA UP and
 * the meters count tokens; without medqa.model the startup failure says what to set.
 */
@SpringBootTest(
        classes = MedQAStarterTest.App.class,
        webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {
            "medqa.temperature=0",
            "medqa.max-new-tokens=24",
            "management.endpoints.web.exposure.include=health,metrics",
            "management.endpoint.health.show-details=always"
        })
class MedQAStarterTest {
    static final Path TOKENIZERS = Path.of("../medqa-core/src/test/resources/tokenizer");

    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class App {}

    static Path model;

    @DynamicPropertySource
    static synchronized void model(DynamicPropertyRegistry properties) throws Exception {
        if (model == null) {
            model = Files.createTempDirectory("medqa-starter-model");
            RandomCheckpoint.write(model, RandomCheckpoint.config(32, 64, 2, 4, 2, 32000, 2048, 0), DType.F32, 13);
            Files.copy(TOKENIZERS.resolve("mistral-7b-v0.1/tokenizer.json"), model.resolve("tokenizer.json"));
            Files.copy(
                    TOKENIZERS.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"),
                    model.resolve("tokenizer_config.json"));
        }
        properties.add("medqa.model", model::toString);
    }

    @Autowired
    ChatClient.Builder chat;

    @Autowired
    MedQA medqa;

    @Autowired
    ChatMemory memory;

    @Autowired
    MeterRegistry meters;

    @Autowired
    Environment environment;

    /** The library's own answer: the chat template's ids, greedy, as the properties set. */
    String direct(Message... messages) {
        GenerationConfig greedy = MedQA.ASK_DEFAULTS.toBuilder()
                .doSample(false)
                .temperature(1.0)
                .maxNewTokens(24)
                .build();
        return medqa.generate(medqa.chatTemplate().encode(List.of(messages)), greedy)
                .text();
    }

    @Test
    void chatClientGivesTheLibrarysAnswerAndStreamsIt() {
        String expected = direct(Message.user("What is warfarin?"));
        assertThat(expected).isNotEmpty();
        assertThat(chat.build().prompt().user("What is warfarin?").call().content())
                .isEqualTo(expected);
        List<String> pieces = chat.build().prompt().user("What is warfarin?").stream()
                .content()
                .collectList()
                .block();
        assertThat(pieces).hasSizeGreaterThan(2);
        assertThat(String.join("", pieces)).isEqualTo(expected);
    }

    record Verdict(String answer, int confidence, List<String> evidence) {}

    @Test
    void entityFillsARecord() {
        Verdict v = chat.build()
                .prompt()
                .user("Does aspirin reduce fever?")
                .options(ai.medqa.springai.MedQAChatOptions.builder().maxTokens(200))
                .call()
                .entity(Verdict.class);
        assertThat(v).isNotNull();
        assertThat(v.answer()).isNotNull();
        assertThat(v.evidence()).isNotNull();
    }

    @Test
    void theHistoryAdvisorCarriesTheConversation() {
        ChatClient client = chat.defaultAdvisors(
                        MessageChatMemoryAdvisor.builder(memory).build())
                .build();
        String first = client.prompt()
                .user("What is warfarin?")
                .advisors(a -> a.param(ChatMemory.CONVERSATION_ID, "c1"))
                .call()
                .content();
        ChatResponse second = client.prompt()
                .user("And its antidote?")
                .advisors(a -> a.param(ChatMemory.CONVERSATION_ID, "c1"))
                .call()
                .chatResponse();
        // The second answer is the library's for the whole conversation, so the history reached the model.
        assertThat(second.getResult().getOutput().getText())
                .isEqualTo(direct(
                        Message.user("What is warfarin?"),
                        Message.assistant(first),
                        Message.user("And its antidote?")));
        assertThat(memory.get("c1")).hasSize(4);
    }

    @Test
    void actuatorShowsMedQaAndTheMetersCountTokens() throws Exception {
        chat.build().prompt().user("Is insulin a hormone?").call().content();
        String port = environment.getProperty("local.server.port");
        HttpResponse<String> r = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/actuator/health"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        JsonNode health = Json.MAPPER.readTree(r.body());
        JsonNode medqaHealth = health.path("components").path("medqa");
        assertThat(medqaHealth.path("status").asText()).as(r.body()).isEqualTo("UP");
        assertThat(medqaHealth.path("details").path("model").asText()).isEqualTo(model.toString());
        assertThat(medqaHealth.path("details").path("device").asText()).isEqualTo("cpu()");
        assertThat(medqaHealth.path("details").path("projections").path("dense").asInt())
                .isEqualTo(2 * 7 + 1); // two layers of 7, and lm_head
        assertThat(meters.get("medqa.completion.tokens").functionCounter().count())
                .isPositive();
        assertThat(meters.get("medqa.prompt.tokens").functionCounter().count()).isPositive();
        assertThat(meters.get("medqa.requests").functionCounter().count()).isPositive();
        assertThat(meters.get("medqa.running.rows").gauge().value()).isZero();
        // Calls are observed through Spring AI's convention: its token-usage meter and operation timer, tagged medqa.
        assertThat(meters.get("gen_ai.client.token.usage")
                        .tag("gen_ai.system", "medqa")
                        .meters())
                .isNotEmpty();
        assertThat(meters.get("gen_ai.client.operation")
                        .tag("gen_ai.system", "medqa")
                        .timer()
                        .count())
                .isPositive();
    }

    @Component
    static class NeedsMedQA {
        NeedsMedQA(MedQA medqa) {}
    }

    @SpringBootConfiguration
    @EnableAutoConfiguration
    @org.springframework.context.annotation.Import(NeedsMedQA.class)
    static class AppWithoutModel {}

    @Test
    @org.junit.jupiter.api.extension.ExtendWith(OutputCaptureExtension.class)
    void withoutTheModelPropertyStartupSaysWhatToSet(CapturedOutput output) {
        Throwable failure = catchThrowable(() -> new SpringApplicationBuilder(AppWithoutModel.class)
                .web(WebApplicationType.NONE)
                .properties("spring.main.banner-mode=off")
                .run()
                .close());
        assertThat(failure).isNotNull();
        // What the user reads: Boot's failure report, with MedQA's analysis of the missing bean.
        assertThat(output.getAll())
                .contains("APPLICATION FAILED TO START")
                .contains(
                        "The application needs a MedQA bean, but MedQA's starter made none: the property medqa.model is not set")
                .contains("Set medqa.model to a Hugging Face model folder, a GGUF file or ollama:NAME[:TAG]");
    }

    static {
        // The temporary model folder goes when the JVM does.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (model != null) {
                try (var files = Files.walk(model)) {
                    files.sorted(java.util.Comparator.reverseOrder())
                            .forEach(p -> p.toFile().delete());
                } catch (java.io.IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }));
    }
}
