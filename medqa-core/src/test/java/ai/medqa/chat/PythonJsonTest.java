package ai.medqa.chat;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** json.dumps as Python 3.11 writes it (goldens printed by Python's json module, pasted). */
class PythonJsonTest {
    static Map<String, Object> value() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put(
                "b",
                new ArrayList<>(Arrays.asList(
                        1, 2.5, -0.1, 1e-05, 1e16, 3.0, true, null, "q\"\\/\n\t\u0001\u00e9\ud83d\ude00")));
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("x", 1);
        a.put("y", List.of());
        v.put("a", a);
        v.put("c", Map.of());
        return v;
    }

    @Test
    void dumpsAsPython() {
        assertThat(PythonJson.dumps(value(), false, -1, ", ", ": ", false))
                .isEqualTo(
                        "{\"b\": [1, 2.5, -0.1, 1e-05, 1e+16, 3.0, true, null, \"q\\\"\\\\/\\n\\t\\u0001\u00e9\ud83d\ude00\"], "
                                + "\"a\": {\"x\": 1, \"y\": []}, \"c\": {}}");
        assertThat(PythonJson.dumps(value(), false, 2, ",", ": ", false))
                .isEqualTo(
                        "{\n  \"b\": [\n    1,\n    2.5,\n    -0.1,\n    1e-05,\n    1e+16,\n    3.0,\n    true,\n    null,\n"
                                + "    \"q\\\"\\\\/\\n\\t\\u0001\u00e9\ud83d\ude00\"\n  ],\n  \"a\": {\n    \"x\": 1,\n    \"y\": []\n  },\n"
                                + "  \"c\": {}\n}");
        assertThat(PythonJson.dumps(value(), false, -1, ", ", ": ", true))
                .isEqualTo("{\"a\": {\"x\": 1, \"y\": []}, \"b\": [1, 2.5, -0.1, 1e-05, 1e+16, 3.0, true, null, "
                        + "\"q\\\"\\\\/\\n\\t\\u0001\u00e9\ud83d\ude00\"], \"c\": {}}");
        assertThat(PythonJson.dumps(value(), true, -1, ", ", ": ", false))
                .isEqualTo(
                        "{\"b\": [1, 2.5, -0.1, 1e-05, 1e+16, 3.0, true, null, \"q\\\"\\\\/\\n\\t\\u0001\\u00e9\\ud83d\\ude00\"], "
                                + "\"a\": {\"x\": 1, \"y\": []}, \"c\": {}}");
        assertThat(PythonJson.dumps(value(), false, -1, ",", ":", false))
                .isEqualTo(
                        "{\"b\":[1,2.5,-0.1,1e-05,1e+16,3.0,true,null,\"q\\\"\\\\/\\n\\t\\u0001\u00e9\ud83d\ude00\"],"
                                + "\"a\":{\"x\":1,\"y\":[]},\"c\":{}}");
    }

    /** repr(float) for values around both switches to exponent notation (Python 3.11). */
    @Test
    void floatsAsPythonRepr() {
        double[] v = {0.0001, 0.00012, 1e15, 1.5e16, 123456.789, -0.0, 2e-300, 1.7976931348623157e308, 0.1 + 0.2};
        String[] python = {
            "0.0001",
            "0.00012",
            "1000000000000000.0",
            "1.5e+16",
            "123456.789",
            "-0.0",
            "2e-300",
            "1.7976931348623157e+308",
            "0.30000000000000004"
        };
        for (int i = 0; i < v.length; i++) {
            assertThat(PythonJson.pythonFloat(v[i])).as(String.valueOf(v[i])).isEqualTo(python[i]);
        }
    }
}
