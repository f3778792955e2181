package ai.medqa.common;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Typed access to the fields of one JSON object, with errors that name the source and the field
 * ({@code config.json: field vocab_size is "x"; expected an integer}) in the reader's own exception
 * type: the one helper behind the config readers (model config, LoRA adapter config).
 */
public final class JsonFields {
    private final JsonNode json;
    private final String source;
    private final Function<String, ? extends RuntimeException> error;

    /** {@code error} makes the reader's exception from a whole message. */
    public JsonFields(JsonNode json, String source, Function<String, ? extends RuntimeException> error) {
        this.json = json;
        this.source = source;
        this.error = error;
    }

    public String requiredString(String name) {
        JsonNode n = json.get(name);
        if (n == null || n.isNull()) {
            throw missing(name, "a string");
        }
        return string(name, null);
    }

    /** The field's text, or {@code dflt} when it is absent or null. */
    public String string(String name, String dflt) {
        JsonNode n = json.get(name);
        if (n == null || n.isNull()) {
            return dflt;
        }
        if (!n.isTextual()) {
            throw error(name, n.toString(), "a string");
        }
        return n.asText();
    }

    public int requiredInt(String name) {
        JsonNode n = json.get(name);
        if (n == null || n.isNull()) {
            throw missing(name, "an integer");
        }
        return integer(name, n);
    }

    public int optionalInt(String name, int dflt) {
        JsonNode n = json.get(name);
        return n == null || n.isNull() ? dflt : integer(name, n);
    }

    public double optionalDouble(String name, double dflt) {
        JsonNode n = json.get(name);
        return n == null || n.isNull() ? dflt : number(name, n);
    }

    /** {@code n} (a value of field {@code name}, or an element of it) as an int. */
    public int integer(String name, JsonNode n) {
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw error(name, n.toString(), "an integer");
        }
        return n.asInt();
    }

    public double number(String name, JsonNode n) {
        if (!n.isNumber()) {
            throw error(name, n.toString(), "a number");
        }
        return n.asDouble();
    }

    /** A list of strings (the field must be present and an array). */
    public List<String> strings(String name) {
        JsonNode n = json.get(name);
        if (n == null || !n.isArray()) {
            throw error(name, String.valueOf(n), "a list of strings or a string");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isTextual()) {
                throw error(name, n.toString(), "a list of strings");
            }
            out.add(e.asText());
        }
        return out;
    }

    /** An object's entries in file order; empty when the field is absent or null. */
    public Map<String, JsonNode> object(String name) {
        JsonNode n = json.get(name);
        Map<String, JsonNode> out = new LinkedHashMap<>();
        if (n == null || n.isNull()) {
            return out;
        }
        if (!n.isObject()) {
            throw error(name, n.toString(), "an object");
        }
        n.properties().forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }

    public RuntimeException error(String field, String value, String expected) {
        return error.apply(source + ": field " + field + " is " + value + "; expected " + expected);
    }

    private RuntimeException missing(String field, String expected) {
        return error.apply(source + ": field " + field + " is missing; expected " + expected);
    }
}
