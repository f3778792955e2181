package ai.medqa.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.medqa.common.Json;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Schemas derived from records: each property as specified (checked whole, field by field), values
 * Jackson writes for the records validate against them (networknt), and integer bounds become
 * regular expressions that accept exactly the range.
 */
class JsonSchemasTest {
    enum Answer {
        @JsonProperty("yes")
        YES,
        @JsonProperty("no")
        NO,
        @JsonProperty("maybe")
        MAYBE
    }

    enum Level {
        LOW,
        HIGH
    }

    record Verdict(Answer answer, String explanation, List<String> evidence) {}

    record Dose(
            @JsonProperty("dose_mg") double doseMg,
            int times,

            @JsonPropertyDescription("the period the times are counted in")
            String per) {}

    record Prescription(
            String drug,
            Optional<Dose> dose,
            Set<Level> levels,
            long[] codes,
            boolean urgent,
            Dose usual,
            short s,
            Byte b,
            Float f,
            BigDecimal price,
            List<List<Integer>> grid) {}

    record Tree(String name, List<Tree> children) {}

    record Outer(Inner inner) {}

    record Inner(Optional<Outer> back) {}

    record WithMap(String id, Map<String, String> tags) {}

    record WithObject(Object anything) {}

    record WithInterface(Runnable task) {}

    record WithWildcard(List<? extends Number> values) {}

    record Clash(@JsonProperty("x") String a, String x) {}

    enum Coded {
        A,
        B;

        @JsonValue
        String code() {
            return name().toLowerCase();
        }
    }

    record WithCoded(Coded c) {}

    static JsonNode json(String text) throws Exception {
        return Json.MAPPER.readTree(text);
    }

    @Test
    void aRecordIsAnObjectOfItsComponentsInOrderAllRequired() throws Exception {
        JsonNode s = JsonSchemas.of(Verdict.class);
        assertThat(s.get("type").asText()).isEqualTo("object");
        assertThat(s.get("properties").get("answer")).isEqualTo(json("{\"enum\": [\"yes\", \"no\", \"maybe\"]}"));
        assertThat(s.get("properties").get("explanation")).isEqualTo(json("{\"type\": \"string\"}"));
        assertThat(s.get("properties").get("evidence"))
                .isEqualTo(json("{\"type\": \"array\", \"items\": {\"type\": \"string\"}}"));
        assertThat(names(s.get("properties").fieldNames())).containsExactly("answer", "explanation", "evidence");
        assertThat(s.get("required")).isEqualTo(json("[\"answer\", \"explanation\", \"evidence\"]"));
        assertThat(s.get("additionalProperties").asBoolean(true)).isFalse();
        assertThat(s.size()).isEqualTo(4);
    }

    @Test
    void everySupportedTypeMapsAsSpecified() throws Exception {
        JsonNode s = JsonSchemas.of(Prescription.class);
        JsonNode p = s.get("properties");
        JsonNode dose = json("""
                {"type": "object", "properties": {
                   "dose_mg": {"type": "number"},
                   "times": {"type": "integer", "minimum": -2147483648, "maximum": 2147483647},
                   "per": {"type": "string", "description": "the period the times are counted in"}},
                 "required": ["dose_mg", "times", "per"], "additionalProperties": false}""");
        assertThat(p.get("drug")).isEqualTo(json("{\"type\": \"string\"}"));
        assertThat(p.get("dose")).isEqualTo(json("{\"anyOf\": [" + dose + ", {\"type\": \"null\"}]}"));
        assertThat(p.get("levels"))
                .isEqualTo(json("{\"type\": \"array\", \"items\": {\"enum\": [\"LOW\", \"HIGH\"]}}"));
        assertThat(p.get("codes")).isEqualTo(json("{\"type\": \"array\", \"items\": {\"type\": \"integer\"}}"));
        assertThat(p.get("urgent")).isEqualTo(json("{\"type\": \"boolean\"}"));
        assertThat(p.get("usual")).as("a record used twice is inlined twice").isEqualTo(dose);
        assertThat(p.get("s")).isEqualTo(json("{\"type\": \"integer\", \"minimum\": -32768, \"maximum\": 32767}"));
        assertThat(p.get("b")).isEqualTo(json("{\"type\": \"integer\", \"minimum\": -128, \"maximum\": 127}"));
        assertThat(p.get("f")).isEqualTo(json("{\"type\": \"number\"}"));
        assertThat(p.get("price")).isEqualTo(json("{\"type\": \"number\"}"));
        assertThat(p.get("grid"))
                .isEqualTo(json("{\"type\": \"array\", \"items\": {\"type\": \"array\", \"items\": "
                        + "{\"type\": \"integer\", \"minimum\": -2147483648, \"maximum\": 2147483647}}}"));
        assertThat(s.get("required")).hasSize(11);
        // The constraint compiles from it, and what Jackson writes for such records is valid.
        Constraint.jsonSchema(s);
        ObjectMapper mapper = Json.MAPPER.copy().registerModule(new Jdk8Module());
        var validator =
                JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(s);
        Dose d = new Dose(2.5, 3, "day");
        for (Prescription x : List.of(
                new Prescription(
                        "aspirin",
                        Optional.of(d),
                        Set.of(Level.LOW),
                        new long[] {1, 2},
                        true,
                        d,
                        (short) -3,
                        (byte) 7,
                        1.5f,
                        new BigDecimal("9.99"),
                        List.of(List.of(1, 2), List.of())),
                new Prescription(
                        "",
                        Optional.empty(),
                        Set.of(),
                        new long[0],
                        false,
                        d,
                        (short) 0,
                        (byte) 0,
                        0f,
                        BigDecimal.ZERO,
                        List.of()))) {
            JsonNode written = mapper.valueToTree(x);
            assertThat(validator.validate(written)).as(written.toString()).isEmpty();
            Prescription back = mapper.treeToValue(written, Prescription.class);
            assertThat(back.dose()).isEqualTo(x.dose());
        }
    }

    @Test
    void unsupportedTypesAreRefusedNamingTheComponentAndType() {
        assertThatThrownBy(() -> JsonSchemas.of(Tree.class))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Tree.children[]")
                .hasMessageContaining("JsonSchemasTest$Tree contains itself");
        assertThatThrownBy(() -> JsonSchemas.of(Outer.class))
                .hasMessageContaining("Outer.inner.back")
                .hasMessageContaining("Outer contains itself");
        assertThatThrownBy(() -> JsonSchemas.of(WithMap.class))
                .hasMessageContaining(
                        "WithMap.tags: type " + "java.util.Map<java.lang.String, java.lang.String> has no JSON Schema");
        assertThatThrownBy(() -> JsonSchemas.of(WithObject.class))
                .hasMessageContaining("WithObject.anything: type " + "java.lang.Object");
        assertThatThrownBy(() -> JsonSchemas.of(WithInterface.class))
                .hasMessageContaining("WithInterface.task: type " + "java.lang.Runnable");
        assertThatThrownBy(() -> JsonSchemas.of(WithWildcard.class))
                .hasMessageContaining("WithWildcard.values")
                .hasMessageContaining("concrete element type");
        assertThatThrownBy(() -> JsonSchemas.of(Clash.class)).hasMessageContaining("Clash.x: the JSON name \"x\"");
        assertThatThrownBy(() -> JsonSchemas.of(WithCoded.class))
                .hasMessageContaining("WithCoded.c")
                .hasMessageContaining("@JsonValue");
        assertThatThrownBy(() -> JsonSchemas.of(String.class))
                .hasMessageContaining("a typed answer is a Java record, got " + "java.lang.String");
    }

    /** Integer bounds as regular expressions: exactly the range, no leading zeros, brute force around the edges. */
    @Test
    void integerBoundsAcceptExactlyTheirRange() throws Exception {
        long[][] ranges = {
            {0, 0},
            {0, 9},
            {3, 7},
            {0, 10},
            {7, 123},
            {19, 3021},
            {100, 999},
            {1, 99999},
            {-50, -7},
            {-128, 127},
            {-1, 1},
            {-305, 0},
            {990, 10010}
        };
        for (long[] r : ranges) {
            String regex = JsonSchemaRegex.of(
                            json("{\"type\": \"integer\", \"minimum\": " + r[0] + ", \"maximum\": " + r[1] + "}"))
                    .replace("\\-", "-");
            Pattern p = Pattern.compile(regex);
            for (long v = r[0] - 1100; v <= r[1] + 1100; v++) {
                assertThat(p.matcher(Long.toString(v)).matches())
                        .as("%d in [%d, %d]: %s", v, r[0], r[1], regex)
                        .isEqualTo(v >= r[0] && v <= r[1]);
            }
            assertThat(p.matcher("007").matches()
                            || p.matcher("-0").matches()
                            || p.matcher("00").matches())
                    .isFalse();
        }
        // Java's int range through the whole constraint (its pattern as java.util.regex reads it).
        Pattern ints = Pattern.compile(
                Constraint.jsonSchema(JsonSchemas.of(Dose.class)).pattern(), Pattern.DOTALL);
        for (String times : List.of("2147483647", "-2147483648", "0", "-1", "1000000000")) {
            assertThat(ints.matcher("{\"dose_mg\":1,\"times\":" + times + ",\"per\":\"d\"}")
                            .matches())
                    .as(times)
                    .isTrue();
        }
        for (String times : List.of("2147483648", "-2147483649", "9999999999", "01", "-0")) {
            assertThat(ints.matcher("{\"dose_mg\":1,\"times\":" + times + ",\"per\":\"d\"}")
                            .matches())
                    .as(times)
                    .isFalse();
        }
        assertThatThrownBy(() -> Constraint.jsonSchema(json("{\"type\": \"number\", \"minimum\": 0}")))
                .hasMessageContaining("minimum/maximum are supported on integers only");
        assertThatThrownBy(() -> Constraint.jsonSchema(json("{\"type\": \"integer\", \"minimum\": 0.5}")))
                .hasMessageContaining("schema.minimum: expected a whole number, got 0.5");
        assertThatThrownBy(() -> Constraint.jsonSchema(json("{\"type\": \"integer\", \"minimum\": 5, \"maximum\": 4}")))
                .hasMessageContaining("allow no integer");
    }

    private static <T> List<T> names(java.util.Iterator<T> it) {
        List<T> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }
}
