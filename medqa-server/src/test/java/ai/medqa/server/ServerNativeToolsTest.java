package ai.medqa.server;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.MedQA;
import ai.medqa.chat.Message;
import ai.medqa.chat.SyntheticV03;
import ai.medqa.chat.Tools;
import ai.medqa.common.Json;
import ai.medqa.io.DType;
import ai.medqa.model.RandomCheckpoint;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Over HTTP, a model whose chat template renders tools (a synthetic Mistral v0.3 tokenizer: v0.1's
 * with v0.3's control tokens, v0.3's template) calls tools in its own syntax: the prompt is the
 * template's own rendering of the tools (as many tokens as medqa-core's native encoding, fewer than
 * the generic description), calls come back as OpenAI tool_calls with the 9-character ids the
 * template demands and arguments valid against the tool's schema, the call and its result go back
 * into the template for the next turn, and streamed calls are the unstreamed ones.
 */
class ServerNativeToolsTest {
    @TempDir
    static Path dir;

    static MedQA medqa;
    static MedQAServer server;
    static final HttpClient client =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    static final String PARAMETERS = """
            {"type": "object", "properties": {"name": {"type": "string", "maxLength": 16},
             "route": {"enum": ["oral", "iv"]}}, "required": ["name"]}""";

    @BeforeAll
    static void start() throws Exception {
        Path model = dir.resolve("model");
        int vocab = SyntheticV03.write(model);
        RandomCheckpoint.write(model, RandomCheckpoint.config(32, 64, 2, 4, 2, vocab, 2048, 0), DType.F32, 11);
        medqa = MedQA.builder().model(model).build();
        server = MedQAServer.start(ServerOptions.defaults("tiny-v03").withPort(0), medqa);
    }

    @AfterAll
    static void stop() {
        server.close();
        medqa.close();
    }

    static HttpResponse<String> post(JsonNode body) throws Exception {
        return client.send(
                HttpRequest.newBuilder(URI.create(server.url() + "/v1/chat/completions"))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode ok(HttpResponse<String> r) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.MAPPER.readTree(r.body());
    }

    static ObjectNode request(String question, long seed) throws Exception {
        ObjectNode body = Json.MAPPER
                .createObjectNode()
                .put("temperature", 1.0)
                .put("seed", seed)
                .put("max_tokens", 120);
        body.putArray("messages").addObject().put("role", "user").put("content", question);
        body.putArray("tools")
                .addObject()
                .put("type", "function")
                .putObject("function")
                .put("name", "drug_lookup")
                .put("description", "Looks a drug up")
                .set("parameters", Json.MAPPER.readTree(PARAMETERS));
        return body;
    }

    @Test
    void callsInTheModelsOwnSyntaxAndBack() throws Exception {
        JsonSchema schema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012)
                .getSchema(Json.MAPPER.readTree(PARAMETERS));
        ObjectNode first = request("Is metoprolol oral?", 5).put("tool_choice", "required");
        JsonNode r = ok(post(first));
        assertThat(r.at("/choices/0/finish_reason").asText()).isEqualTo("tool_calls");
        JsonNode call = r.at("/choices/0/message/tool_calls/0");
        assertThat(call.get("id").asText()).matches("[A-Za-z0-9]{9}");
        assertThat(call.at("/function/name").asText()).isEqualTo("drug_lookup");
        assertThat(schema.validate(
                        Json.MAPPER.readTree(call.at("/function/arguments").asText())))
                .isEmpty();

        // The prompt was the template's own: as many tokens as the native encoding, not the generic one's.
        Tools tools = Tools.of(
                List.of(new Tools.Tool("drug_lookup", "Looks a drug up", Json.MAPPER.readTree(PARAMETERS))),
                Tools.Choice.REQUIRED,
                null);
        List<Message> asked = List.of(Message.user("Is metoprolol oral?"));
        int nativeTokens = tools.forTemplate(medqa.chatTemplate()).encode(medqa.chatTemplate(), asked).length;
        assertThat(r.at("/usage/prompt_tokens").asInt())
                .isEqualTo(nativeTokens)
                .isNotEqualTo(medqa.chatTemplate().encode(tools.describeIn(asked)).length);

        // The call and its result go back; the template takes them (its ids of 9), and the model answers.
        ObjectNode second = request("Is metoprolol oral?", 6);
        ArrayNode messages = second.withArray("messages");
        messages.addObject()
                .put("role", "assistant")
                .putNull("content")
                .set("tool_calls", Json.MAPPER.createArrayNode().add(call));
        messages.addObject()
                .put("role", "tool")
                .put("tool_call_id", call.get("id").asText())
                .put("content", "{\"route\": \"oral\"}");
        JsonNode answer = ok(post(second));
        assertThat(answer.at("/choices/0/finish_reason").asText()).isIn("stop", "length", "tool_calls");

        // Streamed: the same calls, arguments in pieces.
        JsonNode whole = ok(post(first));
        List<String> names = new ArrayList<>();
        List<StringBuilder> arguments = new ArrayList<>();
        String finish = null;
        for (JsonNode e :
                ServerStructuredOutputTest.events(post(first.deepCopy().put("stream", true)))) {
            for (JsonNode c : e.at("/choices/0/delta/tool_calls")) {
                if (c.has("id")) {
                    assertThat(c.get("id").asText()).matches("[A-Za-z0-9]{9}");
                    names.add(c.at("/function/name").asText());
                    arguments.add(new StringBuilder());
                }
                arguments
                        .get(c.get("index").asInt())
                        .append(c.at("/function/arguments").asText());
            }
            if (e.at("/choices/0/finish_reason").isTextual()) {
                finish = e.at("/choices/0/finish_reason").asText();
            }
        }
        assertThat(finish).isEqualTo("tool_calls");
        JsonNode calls = whole.at("/choices/0/message/tool_calls");
        assertThat(names).hasSize(calls.size());
        for (int i = 0; i < names.size(); i++) {
            assertThat(Json.MAPPER.readTree(arguments.get(i).toString()))
                    .isEqualTo(Json.MAPPER.readTree(
                            calls.get(i).at("/function/arguments").asText()));
        }
    }

    @Test
    void aToolMessageMustAnswerAnEarlierCall() throws Exception {
        ObjectNode body = request("Is metoprolol oral?", 1);
        body.withArray("messages")
                .addObject()
                .put("role", "tool")
                .put("tool_call_id", "nosuchcal")
                .put("content", "x");
        HttpResponse<String> r = post(body);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("messages[1].tool_call_id");
    }
}
