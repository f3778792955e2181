package ai.medqa.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.common.Json;
import ai.medqa.io.DType;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.tokenizer.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Constrained output on a random-weight model (which writes noise unless constrained): the mask lets
 * through exactly the tokens that keep a valid prefix (brute force over Mistral's 32,000 pieces), and
 * generations, greedy and sampled, one at a time and batched, always parse and validate against their
 * JSON Schema with an independent validator (networknt).
 */
class ConstraintTest {
    @TempDir
    static Path dir;

    static MistralModel model;
    static Tokenizer tokenizer;

    @BeforeAll
    static void load() throws Exception {
        RandomCheckpoint.write(dir, RandomCheckpoint.config(32, 64, 2, 4, 2, 32000, 512, 0), DType.F32, 17);
        Files.copy(GeneratorTest.resource("/tokenizer/mistral-7b-v0.1/tokenizer.json"), dir.resolve("tokenizer.json"));
        model = MistralModel.load(dir, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE);
        tokenizer = Tokenizer.load(dir);
    }

    @AfterAll
    static void close() {
        model.close();
        tokenizer.close();
    }

    /** A piece as the answer's text (the constraint's reading, restated). */
    static String text(String piece) {
        if (piece.length() == 6 && piece.startsWith("<0x")) {
            return String.valueOf((char) Integer.parseInt(piece.substring(3, 5), 16));
        }
        return piece.replace('\u2581', ' ');
    }

    static boolean usable(int id) {
        String piece = tokenizer.idToPiece(id);
        return !tokenizer.isSpecial(id)
                && piece != null
                && !piece.isEmpty()
                && !(piece.length() == 6
                        && piece.startsWith("<0x")
                        && Integer.parseInt(piece.substring(3, 5), 16) >= 0x80);
    }

    /** The id of a one-character token spelling {@code ch} (its piece, or its byte). */
    static int single(char ch) {
        int id = tokenizer.idOf(ch == ' ' ? "\u2581" : String.valueOf(ch));
        return id >= 0 ? id : tokenizer.idOf(String.format("<0x%02X>", (int) ch));
    }

    static final String SCHEMA = """
            {"type": "object", "properties": {
               "answer": {"enum": ["yes", "no", "maybe"]},
               "confidence": {"type": "number"},
               "evidence": {"type": "array", "items": {"type": "string", "maxLength": 12}, "minItems": 1, "maxItems": 3},
               "trial": {"type": "object", "properties": {"n": {"type": "integer"}, "blinded": {"type": "boolean"},
                          "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, "required": ["n"]}},
             "required": ["answer", "evidence"], "additionalProperties": false}""";

    static final String SCHEMA_REFS = """
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
             "$defs": {"drug": {"type": "object", "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 20},
                                "dose_mg": {"type": ["number", "null"]}}, "required": ["name", "dose_mg"],
                                "additionalProperties": false}},
             "properties": {"kind": {"const": "prescription"},
                            "drugs": {"type": "array", "items": {"$ref": "#/$defs/drug"}, "minItems": 1, "maxItems": 2},
                            "route": {"type": "string", "enum": ["oral", "i.v.", "\\"topical\\""]},
                            "ok": {"type": "boolean"}},
             "required": ["kind", "drugs", "route", "ok"], "additionalProperties": false}""";

    static final String SCHEMA_ARRAY = """
            {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 6},
                                                   {"type": "array", "items": {"type": "boolean"}, "maxItems": 2}]},
             "maxItems": 4}""";

    /**
     * The mask allows exactly the tokens whose piece extends the text so far to a prefix of some
     * valid answer, checked over all 32,000 pieces with another regex engine (java.util.regex's
     * {@code hitEnd}: the input ran out while a match was still possible).
     */
    @Test
    void theMaskAllowsExactlyTheTokensThatKeepAValidPrefix() throws Exception {
        Map<Constraint, List<String>> cases = new LinkedHashMap<>();
        cases.put(Constraint.choice("yes", "no", "maybe"), List.of("", " ", "  m", " may", "ye"));
        cases.put(
                Constraint.jsonSchema(Json.MAPPER.readTree(SCHEMA)),
                List.of(
                        "",
                        "{",
                        "{\"answer\": \"ma",
                        "{\"answer\":\"no\",\"confidence\":-0.5",
                        "{\"answer\":\"no\",\"confidence\":1e",
                        "{\"answer\":\"no\"," + "\"confidence\":2,\"evidence\":[\"a\\",
                        "{\"answer\":\"no\",\"confidence\":2,\"evidence\":[\"1234567890"));
        cases.put(
                Constraint.jsonSchema(Json.MAPPER.readTree(SCHEMA_REFS)),
                List.of(
                        "{\"kind\":\"prescription\"," + "\"drugs\":[{\"name\":\"",
                        "{\"kind\":\"prescription\",\"drugs\":[{\"name\":\"x\",\"dose_mg\":n"));
        cases.put(Constraint.regex("[0-9]{3}-[A-Z]{2}( \\(checked\\))?"), List.of("", "12", "123-AB", "123-AB (che"));
        for (Map.Entry<Constraint, List<String>> e : cases.entrySet()) {
            Pattern reference = Pattern.compile(e.getKey().pattern(), Pattern.DOTALL);
            for (String sofar : e.getValue()) {
                Constraint.Cursor cursor = e.getKey().start(tokenizer);
                for (char ch : sofar.toCharArray()) {
                    cursor.advance(single(ch));
                }
                float[] logits = new float[tokenizer.vocabSize()];
                cursor.mask(logits, id -> id == tokenizer.eosId(), 1000);
                int allowed = 0;
                for (int id = 0; id < logits.length; id++) {
                    boolean expected;
                    if (id == tokenizer.eosId()) {
                        expected = reference.matcher(sofar).matches();
                    } else {
                        Matcher m = reference.matcher(sofar + text(tokenizer.idToPiece(id)));
                        expected = usable(id) && (m.matches() || m.hitEnd());
                    }
                    assertThat(logits[id] == 0f)
                            .as("%s: '%s' + token %d '%s'", e.getKey(), sofar, id, tokenizer.idToPiece(id))
                            .isEqualTo(expected);
                    allowed += expected ? 1 : 0;
                }
                assertThat(allowed).as("tokens allowed after '%s'", sofar).isPositive();
            }
        }
    }

    /**
     * 200 generations per constraint (greedy and sampled, one at a time and batched) all parse and
     * validate against their schema with networknt's validator.
     */
    @Test
    void generationsAlwaysValidateAgainstTheirSchema() throws Exception {
        JsonSchemaFactory factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012);
        Map<String, Constraint> constraints = new LinkedHashMap<>();
        Map<String, JsonNode> schemas = new LinkedHashMap<>();
        for (String schema : List.of(SCHEMA, SCHEMA_REFS, SCHEMA_ARRAY)) {
            schemas.put(schema, Json.MAPPER.readTree(schema));
            constraints.put(schema, Constraint.jsonSchema(Json.MAPPER.readTree(schema)));
        }
        schemas.put("object", Json.MAPPER.readTree("{\"type\": \"object\"}"));
        constraints.put("object", Constraint.jsonObject());
        Generator generator = new Generator(model, tokenizer);
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < 19; i++) {
            prompts.add(tokenizer.encode("Answer " + i + " in JSON:"));
        }
        int nonAscii = 0;
        for (String key : constraints.keySet()) {
            JsonSchema validator = factory.getSchema(schemas.get(key));
            List<Generation> all = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                all.add(generator.generate(
                        prompts.get(i),
                        GenerationConfig.builder()
                                .doSample(i > 0)
                                .temperature(1.3)
                                .topP(0.95)
                                .repetitionPenalty(1.1)
                                .seed(i)
                                .maxNewTokens(120)
                                .constraint(constraints.get(key))
                                .build()));
            }
            for (int b = 0; b < 10; b++) {
                all.addAll(generator.generateBatch(
                        prompts,
                        GenerationConfig.builder()
                                .doSample(true)
                                .temperature(1.0 + b * 0.1)
                                .topK(b % 2 == 0 ? 0 : 50)
                                .seed(100 + b)
                                .maxNewTokens(100 + 10 * b)
                                .constraint(constraints.get(key))
                                .build()));
            }
            assertThat(all).hasSize(200);
            for (Generation g : all) {
                JsonNode value = Json.MAPPER.readTree(g.text());
                assertThat(validator.validate(value)).as(g.text()).isEmpty();
                assertThat(g.stopReason()).as(g.text()).isIn(StopReason.CONSTRAINT_COMPLETE, StopReason.EOS);
                nonAscii += g.text().chars().anyMatch(ch -> ch > 127) ? 1 : 0;
            }
            System.out.println("[figure] " + (key.length() > 20 ? "schema" : key) + ": e.g. "
                    + all.get(11).text());
        }
        assertThat(nonAscii).as("answers with non-ASCII text").isPositive();
        // Choice and regex: 200 each too, checked with java.util.regex.
        Map<Constraint, Pattern> plain = Map.of(
                Constraint.choice("yes", "no", "maybe", "not stated"),
                Pattern.compile("[ \n]{0,4}(yes|no|maybe|not stated)"),
                Constraint.regex("(PMID|DOI):[0-9]{4,8}( \\([a-z]+\\))?"),
                Pattern.compile("[ \n]{0,4}(PMID|DOI):[0-9]{4,8}( \\([a-z]+\\))?"));
        for (Map.Entry<Constraint, Pattern> e : plain.entrySet()) {
            List<Generation> all = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                all.add(generator.generate(
                        prompts.get(i),
                        GenerationConfig.builder()
                                .doSample(i > 0)
                                .temperature(1.5)
                                .seed(i)
                                .maxNewTokens(40)
                                .constraint(e.getKey())
                                .build()));
            }
            for (int b = 0; b < 10; b++) {
                all.addAll(generator.generateBatch(
                        prompts,
                        GenerationConfig.builder()
                                .doSample(true)
                                .temperature(1.0 + b * 0.1)
                                .topK(b % 2 == 0 ? 0 : 50)
                                .seed(200 + b)
                                .maxNewTokens(40)
                                .constraint(e.getKey())
                                .build()));
            }
            assertThat(all).hasSize(200);
            for (Generation g : all) {
                assertThat(g.text()).matches(e.getValue());
                assertThat(g.stopReason()).isIn(StopReason.CONSTRAINT_COMPLETE, StopReason.EOS);
            }
        }
    }

    /**
     * Walks of the mask alone (no model), drawn to favour escapes and non-ASCII text: every complete
     * walk is valid JSON for the schema, and strings with escapes are among them.
     */
    @Test
    void randomWalksThroughTheMaskWithEscapesValidate() throws Exception {
        JsonNode schema = Json.MAPPER.readTree(SCHEMA_REFS);
        JsonSchema validator =
                JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(schema);
        Constraint c = Constraint.jsonSchema(schema);
        Random random = new Random(5);
        int escapes = 0;
        for (int walk = 0; walk < 200; walk++) {
            Constraint.Cursor cursor = c.start(tokenizer);
            StringBuilder out = new StringBuilder();
            for (int step = 0; step < 150 && !cursor.complete(); step++) {
                float[] logits = new float[tokenizer.vocabSize()];
                cursor.mask(logits, id -> id == tokenizer.eosId(), 150 - step);
                List<Integer> ok = new ArrayList<>();
                List<Integer> favoured = new ArrayList<>();
                for (int id = 0; id < logits.length; id++) {
                    if (logits[id] == 0f) {
                        ok.add(id);
                        String piece = tokenizer.idToPiece(id);
                        if (piece.contains("\\") || piece.chars().anyMatch(ch -> ch > 127 && ch != '\u2581')) {
                            favoured.add(id);
                        }
                    }
                }
                List<Integer> from = !favoured.isEmpty() && random.nextBoolean() ? favoured : ok;
                int id = from.get(random.nextInt(from.size()));
                if (id == tokenizer.eosId()) {
                    break;
                }
                cursor.advance(id);
                out.append(text(tokenizer.idToPiece(id)));
            }
            assertThat(cursor.accepting()).as(out.toString()).isTrue();
            JsonNode value = Json.MAPPER.readTree(out.toString());
            assertThat(validator.validate(value)).as(out.toString()).isEmpty();
            escapes += out.indexOf("\\") >= 0 ? 1 : 0;
        }
        assertThat(escapes).as("walks with an escape").isGreaterThan(10);
    }

    @Test
    void choiceRegexAndJsonObjectEndWhenComplete() throws Exception {
        Generator generator = new Generator(model, tokenizer);
        int[] prompt = tokenizer.encode("Is aspirin an NSAID?");
        Pattern code = Pattern.compile("[ \n]{0,4}[0-9]{3}-[A-Z]{2}");
        for (int i = 0; i < 10; i++) {
            Generation g = generator.generate(
                    prompt,
                    GenerationConfig.builder()
                            .doSample(true)
                            .temperature(2.0)
                            .seed(i)
                            .maxNewTokens(20)
                            .constraint(Constraint.choice("yes", "no", "maybe"))
                            .build());
            assertThat(g.text().strip()).isIn("yes", "no", "maybe");
            assertThat(g.stopReason()).isEqualTo(StopReason.CONSTRAINT_COMPLETE);
            Generation r = generator.generate(
                    prompt,
                    GenerationConfig.builder()
                            .doSample(i > 0)
                            .seed(i)
                            .maxNewTokens(20)
                            .constraint(Constraint.regex("[0-9]{3}-[A-Z]{2}"))
                            .build());
            assertThat(r.text()).matches(code);
        }
    }

    /**
     * Regexes as Python and JavaScript users write them (vLLM's guided_regex): shorthand classes,
     * escapes, quotes, (?:...), lazy quantifiers, ^...$; random walks through the mask always match
     * java.util.regex's reading of the same expression, which excludes newlines from ".".
     */
    @Test
    void userRegexesMeanWhatTheySayElsewhere() {
        Random random = new Random(11);
        for (String re : List.of(
                "^\\d{3}-\\w+$",
                "\"[^\"\\n]{1,12}\"",
                "(?:yes|no) \\(\\s?[A-Z]\\)",
                ".{1,10}x",
                "[\\d\\s]{2,5}",
                "\\D\\S\\W",
                "a+?b*?c??",
                "\\u00e9t[ée]\\.",
                "[]a]x",
                "#@&~<>")) {
            Constraint c = Constraint.regex(re);
            Pattern reference = Pattern.compile(re);
            for (int walk = 0; walk < 30; walk++) {
                Constraint.Cursor cursor = c.start(tokenizer);
                StringBuilder out = new StringBuilder();
                for (int step = 0; step < 40 && !cursor.complete(); step++) {
                    float[] logits = new float[tokenizer.vocabSize()];
                    cursor.mask(logits, id -> id == tokenizer.eosId(), 40 - step);
                    List<Integer> ok = new ArrayList<>();
                    for (int id = 0; id < logits.length; id++) {
                        if (logits[id] == 0f) {
                            ok.add(id);
                        }
                    }
                    int id = ok.get(random.nextInt(ok.size()));
                    if (id == tokenizer.eosId()) {
                        break;
                    }
                    cursor.advance(id);
                    out.append(text(tokenizer.idToPiece(id)));
                }
                assertThat(reference
                                        .matcher(out.toString().replaceFirst("^[ \n]{0,4}", ""))
                                        .matches()
                                || reference.matcher(out.toString()).matches())
                        .as(re + " <- '" + out + "'")
                        .isTrue();
            }
        }
        for (String[] bad : new String[][] {
            {"a(?=b)", "look-arounds"},
            {"\\bword", "\\b is not supported"},
            {"a$b", "anchor $"},
            {"(a)\\1", "\\1 is not supported"},
            {"[abc", "not closed"}
        }) {
            assertThatThrownBy(() -> Constraint.regex(bad[0])).as(bad[0]).hasMessageContaining(bad[1]);
        }
    }

    /** Too small a budget: the answer is cut and the reason says so (it is "length", not "stop"). */
    @Test
    void aConstraintThatCannotFinishInTheBudgetEndsCut() {
        Generator generator = new Generator(model, tokenizer);
        Generation g = generator.generate(
                tokenizer.encode("Go"),
                GenerationConfig.builder()
                        .maxNewTokens(2)
                        .constraint(Constraint.regex("[0-9]{12}"))
                        .build()); // digits are one token each in Mistral
        assertThat(g.stopReason()).isEqualTo(StopReason.MAX_NEW_TOKENS);
        assertThat(g.tokens()).hasSize(2);
    }

    @Test
    void unsupportedSchemasAreRefusedByKeyword() throws Exception {
        assertThatThrownBy(() ->
                        Constraint.jsonSchema(Json.MAPPER.readTree("{\"type\": \"string\", \"format\": \"email\"}")))
                .hasMessageContaining("\"format\" is not supported");
        assertThatThrownBy(() -> Constraint.jsonSchema(Json.MAPPER.readTree("{\"type\": \"strnig\"}")))
                .hasMessageContaining("\"strnig\" is not a JSON Schema type");
        assertThatThrownBy(() -> Constraint.jsonSchema(Json.MAPPER.readTree("{\"$ref\": \"#/$defs/a\", \"$defs\": "
                        + "{\"a\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/a\"}}}}")))
                .hasMessageContaining("recursive");
        assertThatThrownBy(() -> Constraint.jsonSchema(
                        Json.MAPPER.readTree("{\"type\": \"array\", \"minItems\": 3, " + "\"maxItems\": 2}")))
                .hasMessageContaining("allow no array");
        assertThatThrownBy(() -> Constraint.jsonSchema(Json.MAPPER.readTree(
                        "{\"type\": \"object\", " + "\"additionalProperties\": {\"type\": \"string\"}}")))
                .hasMessageContaining("schema.additionalProperties");
        assertThatThrownBy(
                        () -> Constraint.jsonSchema(Json.MAPPER.readTree("{\"type\": \"integer\", \"minimum\": 1e17}")))
                .hasMessageContaining("schema.minimum: 1.0E17 leaves no integer");
        assertThatThrownBy(() ->
                        Constraint.jsonSchema(Json.MAPPER.readTree("{\"type\": \"string\", \"maxLength\": 30000}")))
                .hasMessageContaining("more than 20000");
        // The widths Java schema generators write (victools: int32 on an int component) are kept; int32 bounds.
        String int32 = new dk.brics.automaton.RegExp(
                                Constraint.jsonSchema(
                                                Json.MAPPER.readTree("{\"type\": \"integer\", \"format\": \"int32\"}"))
                                        .pattern(),
                                dk.brics.automaton.RegExp.NONE)
                        .toAutomaton()
                        .run("2147483647")
                + " "
                + new dk.brics.automaton.RegExp(
                                Constraint.jsonSchema(
                                                Json.MAPPER.readTree("{\"type\": \"integer\", \"format\": \"int32\"}"))
                                        .pattern(),
                                dk.brics.automaton.RegExp.NONE)
                        .toAutomaton()
                        .run("2147483648");
        assertThat(int32).isEqualTo("true false");
        assertThat(Constraint.jsonSchema(Json.MAPPER.readTree("{\"type\": \"number\", \"format\": \"double\"}")))
                .isNotNull();
        // A schema embedded in another keeps its own $defs (a tool's parameters inside the tool-call schema).
        JsonNode params = Json.MAPPER.readTree(
                "{\"$defs\": {\"dose\": {\"type\": \"object\", \"properties\": "
                        + "{\"mg\": {\"type\": \"integer\"}}}}, \"type\": \"object\", \"properties\": {\"d\": {\"$ref\": \"#/$defs/dose\"}}}");
        ai.medqa.chat.Tools tools = ai.medqa.chat.Tools.of(
                List.of(new ai.medqa.chat.Tools.Tool("f", "", params)), ai.medqa.chat.Tools.Choice.REQUIRED, null);
        assertThat(tools.constraint()).isNotNull();
        assertThatThrownBy(() -> ai.medqa.chat.Tools.of(
                        List.of(new ai.medqa.chat.Tools.Tool("f", "", null)),
                        ai.medqa.chat.Tools.Choice.AUTO,
                        null,
                        Json.MAPPER.readTree("{\"type\": \"string\", \"format\": \"date\"}")))
                .hasMessageStartingWith("response_format.json_schema.schema: schema: the keyword \"format\"");
    }
}
