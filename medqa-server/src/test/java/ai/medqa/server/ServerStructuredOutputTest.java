package ai.medqa.server;

import static ai.medqa.server.ServerApiTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.medqa.MedQA;
import ai.medqa.chat.Message;
import ai.medqa.common.Json;
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
 * Structured output over HTTP in OpenAI's wire format, on a random-weight model (noise unless
 * constrained): {@code response_format} answers validate (networknt's validator), {@code logprobs}
 * sum to the completion's score computed independently (the op-by-op training forward over prompt
 * and answer), a tool round trip, and bad input refused naming the field.
 */
class ServerStructuredOutputTest {
    @TempDir
    static Path dir;

    static MedQA medqa;
    static MedQAServer server;
    static final HttpClient client =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    static final String SCHEMA = """
            {"type": "object", "properties": {
               "answer": {"enum": ["yes", "no", "maybe"]},
               "explanation": {"type": "string", "maxLength": 40},
               "citations": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
               "dose": {"type": "object", "properties": {"mg": {"type": "number"}, "unit": {"const": "mg"}}}},
             "required": ["answer", "explanation", "citations", "dose"], "additionalProperties": false}""";

    @BeforeAll
    static void start() throws Exception {
        TinyServerModel.write(dir, 4096);
        medqa = TinyServerModel.load(dir);
        medqa.useAdapter(null);
        server = MedQAServer.start(ServerOptions.defaults("tiny").withPort(0), medqa);
    }

    @AfterAll
    static void stop() {
        server.close();
        medqa.close();
    }

    static HttpResponse<String> post(String path, JsonNode body) throws Exception {
        return client.send(
                HttpRequest.newBuilder(URI.create(server.url() + path))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static ObjectNode chat(String question, long seed, int maxTokens) {
        ObjectNode body = Json.MAPPER
                .createObjectNode()
                .put("temperature", 1.0)
                .put("seed", seed)
                .put("max_tokens", maxTokens);
        body.putArray("messages").addObject().put("role", "user").put("content", question);
        return body;
    }

    static JsonNode ok(HttpResponse<String> r) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.MAPPER.readTree(r.body());
    }

    /** The concatenated deltas (content) and the last chunk of a streamed answer. */
    static List<JsonNode> events(HttpResponse<String> r) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        List<JsonNode> out = new ArrayList<>();
        for (String line : r.body().split("\n")) {
            if (line.startsWith("data: ") && !line.equals("data: [DONE]")) {
                out.add(Json.MAPPER.readTree(line.substring(6)));
            }
        }
        return out;
    }

    @Test
    void jsonSchemaAnswersValidateStreamedOrNot() throws Exception {
        JsonNode schema = Json.MAPPER.readTree(SCHEMA);
        JsonSchema validator =
                JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(schema);
        for (int seed = 0; seed < 12; seed++) {
            ObjectNode body = chat("Is aspirin an NSAID? Answer in JSON.", seed, 200);
            ObjectNode format = body.putObject("response_format").put("type", "json_schema");
            format.putObject("json_schema")
                    .put("name", "verdict")
                    .put("strict", true)
                    .set("schema", schema);
            String text;
            if (seed % 3 == 2) {
                body.put("stream", true);
                StringBuilder s = new StringBuilder();
                String finish = null;
                for (JsonNode e : events(post("/v1/chat/completions", body))) {
                    s.append(e.at("/choices/0/delta/content").asText(""));
                    finish = e.at("/choices/0/finish_reason").isTextual()
                            ? e.at("/choices/0/finish_reason").asText()
                            : finish;
                }
                text = s.toString();
                assertThat(finish).isEqualTo("stop");
            } else {
                JsonNode r = ok(post("/v1/chat/completions", body));
                text = r.at("/choices/0/message/content").asText();
                assertThat(r.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
            }
            assertThat(validator.validate(Json.MAPPER.readTree(text))).as(text).isEmpty();
        }
        ObjectNode object = chat("JSON please", 3, 200);
        object.putObject("response_format").put("type", "json_object");
        JsonNode r = ok(post("/v1/chat/completions", object));
        assertThat(Json.MAPPER
                        .readTree(r.at("/choices/0/message/content").asText())
                        .isObject())
                .isTrue();
    }

    @Test
    void guidedChoiceAndRegexOnBothEndpoints() throws Exception {
        for (int seed = 0; seed < 5; seed++) {
            ObjectNode c = chat("Is it?", seed, 10);
            c.putArray("guided_choice").add("yes").add("no").add("maybe");
            assertThat(ok(post("/v1/chat/completions", c))
                            .at("/choices/0/message/content")
                            .asText()
                            .strip())
                    .isIn("yes", "no", "maybe");
            ObjectNode p = Json.MAPPER
                    .createObjectNode()
                    .put("prompt", "Code:")
                    .put("seed", seed)
                    .put("max_tokens", 20)
                    .put("guided_regex", "[A-Z][0-9]{2}\\.[0-9]");
            assertThat(ok(post("/v1/completions", p)).at("/choices/0/text").asText())
                    .matches("[ \n]{0,4}[A-Z][0-9]{2}\\.[0-9]");
        }
    }

    /**
     * Each token's logprob is its log-softmax under the model: summed, the completion's score, which
     * is computed here again by the training forward (op by op, no cache) over prompt + answer.
     */
    @Test
    void logprobsSumToTheCompletionsIndependentScore() throws Exception {
        ObjectNode body = chat("What is a beta blocker?", 42, 24)
                .put("top_p", 0.9)
                .put("logprobs", true)
                .put("top_logprobs", 5);
        JsonNode r = ok(post("/v1/chat/completions", body));
        JsonNode content = r.at("/choices/0/logprobs/content");
        assertThat(content.size()).isEqualTo(r.at("/usage/completion_tokens").asInt());
        double sum = 0;
        for (JsonNode t : content) {
            sum += t.get("logprob").asDouble();
            JsonNode top = t.get("top_logprobs");
            assertThat(top.size()).isEqualTo(5);
            for (int i = 1; i < top.size(); i++) {
                assertThat(top.get(i).get("logprob").asDouble())
                        .isLessThanOrEqualTo(top.get(i - 1).get("logprob").asDouble());
            }
            assertThat(t.get("logprob").asDouble())
                    .isLessThanOrEqualTo(top.get(0).get("logprob").asDouble() + 1e-6);
            StringBuilder bytes = new StringBuilder();
            t.get("bytes").forEach(b -> bytes.append((char) b.asInt()));
            if (!t.get("token").asText().startsWith("bytes:")) {
                assertThat(new String(
                                bytes.toString().getBytes(java.nio.charset.StandardCharsets.ISO_8859_1),
                                java.nio.charset.StandardCharsets.UTF_8))
                        .isEqualTo(t.get("token").asText());
            }
        }
        // The answer's ids, read back from the tokens' text (a piece with "▁" for spaces; a byte token
        // otherwise), checked by decoding them to the answer, then scored by the other path.
        int[] prompt = medqa.chatTemplate().encode(List.of(Message.user("What is a beta blocker?")));
        int[] answer = new int[content.size()];
        for (int i = 0; i < answer.length; i++) {
            String token = content.get(i).get("token").asText();
            int id = token.startsWith("bytes:") ? -1 : medqa.tokenizer().idOf(token.replace(' ', '\u2581'));
            answer[i] = id >= 0
                    ? id
                    : medqa.tokenizer()
                            .idOf(String.format(
                                    "<0x%02X>",
                                    content.get(i).get("bytes").get(0).asInt()));
            assertThat(answer[i]).as(token).isNotNegative();
        }
        assertThat(medqa.tokenizer().decode(answer))
                .isEqualTo(r.at("/choices/0/message/content").asText());
        double score = score(prompt, answer);
        assertThat(sum)
                .isCloseTo(score, org.assertj.core.data.Offset.offset(1e-4 * Math.max(1, Math.abs(score)) + 1e-4));
        System.out.println("[figure] logprobs sum " + sum + ", independent score " + score);

        // Streamed: the same logprobs, chunk by chunk.
        body.put("stream", true);
        double streamed = 0;
        int count = 0;
        for (JsonNode e : events(post("/v1/chat/completions", body))) {
            for (JsonNode t : e.at("/choices/0/logprobs/content")) {
                streamed += t.get("logprob").asDouble();
                count++;
            }
        }
        assertThat(count).isEqualTo(content.size());
        assertThat(streamed).isCloseTo(sum, org.assertj.core.data.Offset.offset(1e-5));

        // Completions: the legacy shape, with text offsets.
        ObjectNode p = Json.MAPPER
                .createObjectNode()
                .put("prompt", "Beta blockers")
                .put("seed", 1)
                .put("max_tokens", 8)
                .put("logprobs", 3);
        JsonNode lp = ok(post("/v1/completions", p)).at("/choices/0/logprobs");
        assertThat(lp.get("tokens").size())
                .isEqualTo(lp.get("token_logprobs").size())
                .isEqualTo(lp.get("text_offset").size());
        assertThat(lp.get("top_logprobs").get(0).size()).isBetween(1, 3);
    }

    /** Sum of log-softmax(logits)[next token] over the answer, by the training forward (no cache). */
    static double score(int[] prompt, int[] answer) {
        long[] ids = new long[prompt.length + answer.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i < prompt.length ? prompt[i] : answer[i - prompt.length];
        }
        try (NDManager m = NDManager.newBaseManager();
                NDArray input = m.create(new long[][] {ids})) {
            float[] logits = medqa.model().forward(input, new int[] {0}).toFloatArray();
            int vocab = logits.length / ids.length;
            double total = 0;
            for (int i = 0; i < answer.length; i++) {
                int row = (prompt.length - 1 + i) * vocab;
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < vocab; v++) {
                    max = Math.max(max, logits[row + v]);
                }
                double z = 0;
                for (int v = 0; v < vocab; v++) {
                    z += Math.exp(logits[row + v] - max);
                }
                total += logits[row + answer[i]] - max - Math.log(z);
            }
            return total;
        }
    }

    static ObjectNode withTools(ObjectNode body) throws Exception {
        ArrayNode tools = body.putArray("tools");
        tools.addObject()
                .put("type", "function")
                .putObject("function")
                .put("name", "drug_lookup")
                .put("description", "Looks a drug up in the formulary")
                .set("parameters", Json.MAPPER.readTree("""
                        {"type": "object", "properties": {"name": {"type": "string", "maxLength": 16},
                         "route": {"enum": ["oral", "iv"]}}, "required": ["name"]}"""));
        tools.addObject()
                .put("type", "function")
                .putObject("function")
                .put("name", "interactions")
                .set("parameters", Json.MAPPER.readTree("""
                        {"type": "object", "properties": {"drugs": {"type": "array", "items": {"type": "string",
                         "maxLength": 10}, "minItems": 2, "maxItems": 3}}}"""));
        return body;
    }

    /** Call, tool result back, final answer: tool_calls with finish_reason "tool_calls", then a reply. */
    @Test
    void aToolRoundTrip() throws Exception {
        JsonSchema lookup = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012)
                .getSchema(Json.MAPPER.readTree(
                        "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\", \"maxLength\": 16}, "
                                + "\"route\": {\"enum\": [\"oral\", \"iv\"]}}, \"required\": [\"name\"]}"));
        ObjectNode first = withTools(chat("Is metoprolol oral?", 7, 120));
        first.putObject("tool_choice")
                .put("type", "function")
                .putObject("function")
                .put("name", "drug_lookup");
        JsonNode r = ok(post("/v1/chat/completions", first));
        assertThat(r.at("/choices/0/finish_reason").asText()).isEqualTo("tool_calls");
        JsonNode call = r.at("/choices/0/message/tool_calls/0");
        assertThat(r.at("/choices/0/message/content").isNull()).isTrue();
        assertThat(call.get("type").asText()).isEqualTo("function");
        assertThat(call.at("/function/name").asText()).isEqualTo("drug_lookup");
        JsonNode args = Json.MAPPER.readTree(call.at("/function/arguments").asText());
        assertThat(lookup.validate(args)).as(args.toString()).isEmpty();

        // Back: the assistant's call and the tool's result; "auto" lets the model reply (or call again).
        boolean replied = false;
        for (int seed = 0; seed < 8 && !replied; seed++) {
            ObjectNode second = withTools(chat("Is metoprolol oral?", seed, 120));
            ArrayNode messages = second.withArray("messages");
            messages.addObject()
                    .put("role", "assistant")
                    .putNull("content")
                    .set("tool_calls", Json.MAPPER.createArrayNode().add(call));
            messages.addObject()
                    .put("role", "tool")
                    .put("tool_call_id", call.get("id").asText())
                    .put("content", "{\"route\": \"oral\", \"forms\": [\"tablet\"]}");
            JsonNode answer = ok(post("/v1/chat/completions", second));
            String finish = answer.at("/choices/0/finish_reason").asText();
            assertThat(finish).isIn("stop", "tool_calls");
            if (finish.equals("stop")) {
                assertThat(answer.at("/choices/0/message/content").isTextual()).isTrue();
                assertThat(answer.at("/choices/0/message/tool_calls").isMissingNode())
                        .isTrue();
                replied = true;
            } else {
                assertThat(answer.at("/choices/0/message/tool_calls/0/function/name")
                                .asText())
                        .isIn("drug_lookup", "interactions");
            }
        }
        assertThat(replied).as("one of 8 seeds replies after the tool result").isTrue();

        // "required", streamed: each call's id and name, then its arguments piece by piece, as OpenAI streams
        // them; assembled by index as clients do, they are the non-streamed answer's (same seed).
        ObjectNode request =
                withTools(chat("Interactions of warfarin?", 3, 160)).put("tool_choice", "required");
        JsonNode whole = ok(post("/v1/chat/completions", request));
        List<JsonNode> events =
                events(post("/v1/chat/completions", request.deepCopy().put("stream", true)));
        JsonNode last = events.get(events.size() - 1);
        assertThat(last.at("/choices/0/finish_reason").asText()).isEqualTo("tool_calls");
        List<String> names = new ArrayList<>();
        List<StringBuilder> arguments = new ArrayList<>();
        int argumentChunks = 0;
        for (JsonNode e : events) {
            for (JsonNode c : e.at("/choices/0/delta/tool_calls")) {
                int index = c.get("index").asInt();
                if (c.has("id")) {
                    assertThat(index).isEqualTo(names.size());
                    assertThat(c.get("id").asText()).startsWith("call_");
                    names.add(c.at("/function/name").asText());
                    arguments.add(new StringBuilder());
                } else {
                    argumentChunks++;
                }
                arguments.get(index).append(c.at("/function/arguments").asText());
            }
        }
        JsonNode calls = whole.at("/choices/0/message/tool_calls");
        assertThat(names).hasSize(calls.size());
        assertThat(argumentChunks).as("arguments arrive in pieces").isGreaterThan(names.size());
        for (int i = 0; i < names.size(); i++) {
            assertThat(names.get(i)).isEqualTo(calls.get(i).at("/function/name").asText());
            assertThat(Json.MAPPER.readTree(arguments.get(i).toString()))
                    .isEqualTo(Json.MAPPER.readTree(
                            calls.get(i).at("/function/arguments").asText()));
        }
    }

    /** With tools, a reply streams as text piece by piece (not at the end), the same text as unstreamed. */
    @Test
    void aReplyWithToolsStreams() throws Exception {
        boolean replied = false;
        for (int seed = 0; seed < 12 && !replied; seed++) {
            ObjectNode request = withTools(chat("Is metoprolol oral?", seed, 120));
            JsonNode whole = ok(post("/v1/chat/completions", request));
            if (!whole.at("/choices/0/finish_reason").asText().equals("stop")) {
                continue;
            }
            replied = true;
            StringBuilder text = new StringBuilder();
            int pieces = 0;
            for (JsonNode e :
                    events(post("/v1/chat/completions", request.deepCopy().put("stream", true)))) {
                JsonNode content = e.at("/choices/0/delta/content");
                if (content.isTextual() && !content.asText().isEmpty()) {
                    text.append(content.asText());
                    pieces++;
                }
                assertThat(e.at("/choices/0/delta/tool_calls").isMissingNode()).isTrue();
            }
            assertThat(text.toString())
                    .isEqualTo(whole.at("/choices/0/message/content").asText());
            assertThat(pieces).isGreaterThan(1);
        }
        assertThat(replied).as("one of 12 seeds replies").isTrue();
    }

    @Test
    void badStructuredRequestsNameTheField() throws Exception {
        ObjectNode invalid = chat("q", 1, 5);
        invalid.putObject("response_format")
                .put("type", "json_schema")
                .putObject("json_schema")
                .put("name", "x")
                .putObject("schema")
                .put("type", "strnig");
        assertError(post("/v1/chat/completions", invalid), 400, "response_format.json_schema.schema");
        ObjectNode keyword = chat("q", 1, 5);
        keyword.putObject("response_format")
                .put("type", "json_schema")
                .putObject("json_schema")
                .put("name", "x")
                .putObject("schema")
                .put("type", "string")
                .put("format", "email");
        assertError(post("/v1/chat/completions", keyword), 400, "\"format\" is not supported");
        ObjectNode nothing = chat("q", 1, 5);
        nothing.putObject("response_format")
                .put("type", "json_schema")
                .putObject("json_schema")
                .put("name", "x")
                .putObject("schema")
                .put("type", "string")
                .put("minLength", 5)
                .put("maxLength", 2);
        assertError(post("/v1/chat/completions", nothing), 400, "allow no string");
        ObjectNode unnamed = chat("q", 1, 5);
        unnamed.putArray("tools")
                .addObject()
                .put("type", "function")
                .putObject("function")
                .put("description", "no name");
        assertError(post("/v1/chat/completions", unnamed), 400, "tools[0].function.name");
        ObjectNode unknown = withTools(chat("q", 1, 5));
        unknown.putObject("tool_choice")
                .put("type", "function")
                .putObject("function")
                .put("name", "nope");
        assertError(post("/v1/chat/completions", unknown), 400, "tool_choice");
        ObjectNode both = withTools(chat("q", 1, 5)).put("guided_regex", "a+");
        assertError(post("/v1/chat/completions", both), 400, "guided_regex");
        ObjectNode topWithout = chat("q", 1, 5).put("top_logprobs", 3);
        assertError(post("/v1/chat/completions", topWithout), 400, "top_logprobs");
        ObjectNode tooMany = chat("q", 1, 5).put("logprobs", true).put("top_logprobs", 21);
        assertError(post("/v1/chat/completions", tooMany), 400, "top_logprobs");
        ObjectNode twoGuides = chat("q", 1, 5).put("guided_regex", "a+");
        twoGuides.putArray("guided_choice").add("a");
        assertError(post("/v1/chat/completions", twoGuides), 400, "give one of");
    }
}
