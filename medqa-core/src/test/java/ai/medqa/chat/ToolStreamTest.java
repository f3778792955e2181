package ai.medqa.chat;

import static org.assertj.core.api.Assertions.assertThat;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link ToolStream} against {@link Tools#parse} on the same answers, cut into pieces at every place
 * (escapes, \\u sequences and surrogate pairs split across pieces included): the joined reply pieces
 * are the parsed reply, each call's name is the parsed name, and its joined argument pieces parse to
 * the parsed arguments.
 */
class ToolStreamTest {
    static final Tools.Tool LOOKUP = new Tools.Tool("lookup", "", null);
    static final Tools.Tool F = new Tools.Tool("f", "", null);

    /** What a stream gave. */
    static final class Heard implements ToolStream.Listener {
        final StringBuilder reply = new StringBuilder();
        final List<String> names = new ArrayList<>();
        final List<String> ids = new ArrayList<>();
        final List<StringBuilder> arguments = new ArrayList<>();
        int replyPieces;

        @Override
        public void reply(String text) {
            assertThat(text).isNotEmpty();
            reply.append(text);
            replyPieces++;
        }

        @Override
        public void call(int index, String id, String name) {
            assertThat(index).isEqualTo(names.size());
            names.add(name);
            ids.add(id);
            arguments.add(new StringBuilder());
        }

        @Override
        public void arguments(int index, String json) {
            assertThat(index).isEqualTo(names.size() - 1);
            arguments.get(index).append(json);
        }
    }

    static Heard stream(Tools tools, List<String> pieces) {
        Heard heard = new Heard();
        ToolStream s = new ToolStream(tools, heard);
        pieces.forEach(s::push);
        return heard;
    }

    /** Every way of cutting {@code text} in two, in single characters, and at random places. */
    static List<List<String>> cuts(String text) {
        List<List<String>> out = new ArrayList<>();
        for (int i = 0; i <= text.length(); i++) {
            out.add(List.of(text.substring(0, i), text.substring(i)));
        }
        List<String> chars = new ArrayList<>();
        for (int i = 0; i < text.length(); i++) {
            chars.add(String.valueOf(text.charAt(i)));
        }
        out.add(chars);
        Random r = new Random(3);
        for (int n = 0; n < 20; n++) {
            List<String> pieces = new ArrayList<>();
            int at = 0;
            while (at < text.length()) {
                int next = Math.min(text.length(), at + 1 + r.nextInt(6));
                pieces.add(text.substring(at, next));
                at = next;
            }
            out.add(pieces);
        }
        return out;
    }

    static void check(Tools tools, String text) throws Exception {
        Tools.Reply parsed = tools.parse(text);
        for (List<String> pieces : cuts(text)) {
            Heard heard = stream(tools, pieces);
            if (parsed.isCall()) {
                assertThat(heard.reply.toString()).isEmpty();
                assertThat(heard.names)
                        .containsExactlyElementsOf(
                                parsed.calls().stream().map(Tools.Call::name).toList());
                for (int i = 0; i < heard.names.size(); i++) {
                    assertThat(heard.ids.get(i)).matches("call_[0-9a-f]{24}");
                    assertThat(Json.MAPPER.readTree(heard.arguments.get(i).toString()))
                            .as(pieces.toString())
                            .isEqualTo(parsed.calls().get(i).arguments());
                }
            } else if (tools.hasReplySchema()) {
                assertThat(Json.MAPPER.readTree(heard.reply.toString()))
                        .as(pieces.toString())
                        .isEqualTo(Json.MAPPER.readTree(parsed.content()));
                assertThat(heard.names).isEmpty();
            } else {
                assertThat(heard.reply.toString()).as(pieces.toString()).isEqualTo(parsed.content());
                assertThat(heard.names).isEmpty();
            }
        }
    }

    @Test
    void callsStreamTheirNamesThenTheirArguments() throws Exception {
        Tools tools = Tools.of(List.of(LOOKUP, F), Tools.Choice.AUTO, null);
        check(
                tools,
                " {\"tool_calls\": [{\"name\": \"lookup\", \"arguments\": {\"drug\": \"aspirin \\\"81\\\" \\u00e9\\n\", "
                        + "\"mg\": [1, -2.5e3, true, null], \"o\": {\"k\": []}}}, {\"name\":\"f\",\"arguments\":{}}]}");
        check(tools, "{\"tool_calls\":[{\"name\":\"f\",\"arguments\":{\"a\":\"}]\\\\\"}}]}");
        Heard heard = stream(
                tools, List.of("{\"tool_calls\": [{\"name\": \"loo", "kup\", \"argu", "ments\": {\"d", "\": 1}}]}"));
        assertThat(heard.arguments.get(0).toString()).isEqualTo("{\"d\": 1}");
    }

    @Test
    void aTextReplyStreamsDecoded() throws Exception {
        Tools tools = Tools.of(List.of(LOOKUP), Tools.Choice.AUTO, null);
        check(tools, "{\"response\": \"Aspirin: \\\"yes\\\"\\n\\u00e9\\ud83d\\ude00 \\/ \\\\ done\"}");
        check(tools, "\n{\"response\":\"\"}");
        Heard heard = stream(tools, List.of("{\"response\": \"Ye", "s, it d", "oes.\"}"));
        assertThat(heard.reply.toString()).isEqualTo("Yes, it does.");
        assertThat(heard.replyPieces).isEqualTo(3); // as it arrives, not at the end
    }

    @Test
    void aReplyWithASchemaStreamsItsJson() throws Exception {
        JsonNode schema =
                Json.MAPPER.readTree("{\"type\": \"object\", \"properties\": {\"answer\": {\"type\": \"string\"}, "
                        + "\"n\": {\"type\": \"integer\"}}, \"required\": [\"answer\", \"n\"]}");
        Tools tools = Tools.of(List.of(LOOKUP), Tools.Choice.AUTO, null, schema);
        check(tools, "{\"response\": {\"answer\": \"y\\\"es\", \"n\": 3}}");
        Tools number =
                Tools.of(List.of(LOOKUP), Tools.Choice.AUTO, null, Json.MAPPER.readTree("{\"type\": \"integer\"}"));
        check(number, "{\"response\": 42}");
        Tools text = Tools.of(List.of(LOOKUP), Tools.Choice.AUTO, null, Json.MAPPER.readTree("{\"type\": \"string\"}"));
        check(text, "{\"response\": \"x\\ty\"}");
    }
}
