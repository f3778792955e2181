package ai.medqa.chat;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.common.Json;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.generate.Generator;
import ai.medqa.io.DType;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.tokenizer.Tokenizer;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Native tool calls on a random-weight model with the synthetic Mistral v0.3 tokenizer (which writes
 * noise unless constrained): with tool_choice required, every answer, greedy and sampled, one at a
 * time and batched, is the {@code [TOOL_CALLS]} control token then calls whose arguments validate
 * against their tool's schema (networknt); with auto, every answer parses (calls or a reply that
 * never holds the token); streamed through ToolStream token by token, the calls and their
 * arguments' text equal the parsed ones; and the calls go back into the template as a turn with
 * their results.
 */
class NativeToolsTest {
    @TempDir
    static Path dir;

    static MistralModel model;
    static Tokenizer tokenizer;
    static ChatTemplate template;
    static List<Tools.Tool> tools;

    @BeforeAll
    static void load() throws Exception {
        SyntheticV03.write(dir);
        tokenizer = Tokenizer.load(dir);
        RandomCheckpoint.write(
                dir, RandomCheckpoint.config(32, 64, 2, 4, 2, tokenizer.vocabSize(), 1024, 0), DType.F32, 23);
        model = MistralModel.load(dir, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE);
        template = ChatTemplate.of(tokenizer);
        tools = SyntheticV03.tools(SyntheticV03.golden().get("cases").get(0).get("tools"));
    }

    @AfterAll
    static void close() {
        model.close();
        tokenizer.close();
    }

    private static List<Generation> generate(Tools t, String question, int count) {
        int[] prompt = t.encode(template, List.of(Message.user(question)));
        Generator generator = new Generator(model, tokenizer);
        List<Generation> all = new ArrayList<>();
        for (int i = 0; i < count / 2; i++) {
            all.add(generator.generate(
                    prompt,
                    GenerationConfig.builder()
                            .doSample(i > 0)
                            .temperature(1.4)
                            .seed(i)
                            .maxNewTokens(160)
                            .constraint(t.constraint())
                            .build()));
        }
        all.addAll(generator.generateBatch(
                java.util.Collections.nCopies(count - count / 2, prompt),
                GenerationConfig.builder()
                        .doSample(true)
                        .temperature(1.2)
                        .topK(40)
                        .seed(99)
                        .maxNewTokens(160)
                        .constraint(t.constraint())
                        .build()));
        return all;
    }

    @Test
    void requiredCallsAreTheControlTokenThenValidCalls() throws Exception {
        Tools t = Tools.of(tools, Tools.Choice.REQUIRED, null).forTemplate(template);
        assertThat(t.isNative()).isTrue();
        int control = tokenizer.idOf(Tools.MISTRAL_CALLS_TOKEN);
        Map<String, JsonSchema> schemas = new HashMap<>();
        JsonSchemaFactory factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012);
        tools.forEach(tool -> schemas.put(tool.name(), factory.getSchema(tool.parameters())));
        List<Generation> all = generate(t, "Weather in Oslo, and a dose of metformin?", 24);
        for (Generation g : all) {
            assertThat(g.tokens()).as(g.text()).contains(control);
            Tools.Reply reply = t.parse(g.tokens(), g.text());
            assertThat(reply.isCall()).isTrue();
            for (Tools.Call call : reply.calls()) {
                assertThat(schemas).containsKey(call.name());
                assertThat(schemas.get(call.name()).validate(call.arguments()))
                        .as(g.text())
                        .isEmpty();
                assertThat(call.id()).matches("[A-Za-z0-9]{9}");
            }
            // Streamed token by token: the same calls, their arguments' text piece by piece.
            List<String> names = new ArrayList<>();
            Map<Integer, StringBuilder> args = new HashMap<>();
            ToolStream stream = new ToolStream(t, new ToolStream.Listener() {
                @Override
                public void reply(String text) {
                    throw new AssertionError("a reply in a required call: " + text);
                }

                @Override
                public void call(int index, String id, String name) {
                    names.add(name);
                }

                @Override
                public void arguments(int index, String json) {
                    args.computeIfAbsent(index, k -> new StringBuilder()).append(json);
                }
            });
            Tokenizer.StreamDecoder decoder = tokenizer.newStreamDecoder(true);
            for (int id : g.tokens()) {
                stream.push(id, decoder.push(id));
            }
            stream.push(-1, decoder.finish());
            stream.end();
            assertThat(names).hasSize(reply.calls().size());
            for (int i = 0; i < names.size(); i++) {
                assertThat(names.get(i)).isEqualTo(reply.calls().get(i).name());
                assertThat(Json.MAPPER.readTree(args.get(i).toString()))
                        .isEqualTo(reply.calls().get(i).arguments());
            }
        }
        System.out.println("[figure] native call, e.g. " + all.get(1).text());
        // The calls and their results go back into the template (ids of 9 letters and digits, as it demands).
        Tools.Reply first = t.parse(all.get(0).tokens(), all.get(0).text());
        List<Message> next =
                new ArrayList<>(List.of(Message.user("Weather in Oslo?"), Message.toolCalls(first.calls())));
        first.calls().forEach(c -> next.add(Message.toolResult(c.id(), "{\"ok\": true}")));
        int[] ids = t.encode(template, next);
        assertThat(ids).contains(control, tokenizer.idOf("[TOOL_RESULTS]"));
    }

    @Test
    void autoAnswersAreCallsOrRepliesWithoutTheToken() {
        Tools t = Tools.of(tools, Tools.Choice.AUTO, null).forTemplate(template);
        int control = tokenizer.idOf(Tools.MISTRAL_CALLS_TOKEN);
        for (Generation g : generate(t, "Hello", 16)) {
            Tools.Reply reply = t.parse(g.tokens(), g.text());
            if (!reply.isCall()) {
                assertThat(g.tokens()).doesNotContain(control);
                assertThat(reply.content()).doesNotStartWith(Tools.MISTRAL_CALLS_TOKEN);
            }
        }
    }

    @Test
    void aTemplateWithoutToolsKeepsTheGenericForm() {
        ChatTemplate v01 = ChatTemplate.mistral(tokenizer);
        Tools t = Tools.of(tools, Tools.Choice.AUTO, null);
        assertThat(t.forTemplate(v01)).isSameAs(t);
        // Its tool calls and results become text turns the v0.1 format can hold.
        List<Message> messages = List.of(
                Message.user("Weather?"),
                Message.toolCalls(List.of(new Tools.Call(
                        "call_1", "get_weather", Json.MAPPER.createObjectNode().put("city", "Oslo")))),
                Message.toolResult("call_1", "-3"));
        assertThat(Tools.asText(messages))
                .containsExactly(
                        Message.user("Weather?"),
                        Message.assistant(
                                "{\"tool_calls\":[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}]}"),
                        Message.user("{\"tool_results\":[{\"name\":\"get_weather\",\"content\":\"-3\"}]}"));
        assertThat(t.encode(v01, messages)).isNotEmpty();
    }
}
