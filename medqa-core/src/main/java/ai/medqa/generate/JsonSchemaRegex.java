package ai.medqa.generate;

import ai.medqa.common.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A JSON Schema as a regular expression over the JSON text (the approach of Outlines): every text the
 * expression matches is a JSON value valid against the schema. Supported: {@code type} (object,
 * array, string, number, integer, boolean, null, or a list of them), {@code properties},
 * {@code required}, {@code additionalProperties}, {@code items}, {@code minItems}/{@code maxItems},
 * {@code enum}, {@code const}, {@code anyOf}/{@code oneOf} (alternatives), local {@code $ref} to
 * {@code $defs}/{@code definitions} (not recursive), string {@code maxLength}/{@code minLength}, integer
 * {@code minimum}/{@code maximum} (inclusive, whole numbers: a Java {@code int} field must not receive
 * 16 digits); the
 * annotations {@code title}, {@code description}, {@code examples}, {@code default}, {@code $schema},
 * {@code $id}, {@code $comment} are ignored. Any other keyword is refused, naming it. Objects list
 * every declared property, in order (optional ones too: still valid), and no others (an object schema
 * with neither {@code properties} nor {@code additionalProperties} is any object, nesting up to 2
 * levels); compact separators with an optional space.
 */
final class JsonSchemaRegex {
    private static final Set<String> KEYWORDS = Set.of(
            "type",
            "properties",
            "required",
            "additionalProperties",
            "items",
            "minItems",
            "maxItems",
            "enum",
            "const",
            "anyOf",
            "oneOf",
            "$ref",
            "$defs",
            "definitions",
            "maxLength",
            "minLength",
            "minimum",
            "maximum",
            "title",
            "description",
            "examples",
            "default",
            "$schema",
            "$id",
            "$comment",
            "format");
    /** JSON string characters: anything but a quote, a backslash or a control character; or an escape. */
    private static final String CHAR = "([^\"\\\\\u0000-\u001f]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4})";
    /** A quote as brics reads it: a bare {@code "} opens one of its string literals. */
    private static final String QUOTE = "\\\"";

    private static final String STRING = QUOTE + CHAR + "*" + QUOTE;
    private static final String INTEGER = "\\-?(0|[1-9][0-9]{0,15})";
    private static final String NUMBER = INTEGER + "(\\.[0-9]{1,15})?([eE][\\+\\-]?[0-9]{1,2})?";
    private static final String SEP = " ?";

    /** The schemas enclosing the one being read that define $defs/definitions, innermost first. */
    private final Deque<JsonNode> scopes = new ArrayDeque<>();

    private final Set<String> resolving = new HashSet<>();

    private JsonSchemaRegex(JsonNode root) {
        scopes.push(root);
    }

    static String of(JsonNode schema) {
        if (schema == null || !(schema.isObject() || schema.isBoolean())) {
            throw new IllegalArgumentException("a JSON schema is an object, got " + schema);
        }
        return new JsonSchemaRegex(schema).value(schema, "schema");
    }

    /** Any JSON object, nesting at most {@code depth} levels. */
    static String anyObject(int depth) {
        String value = "(" + STRING + "|" + NUMBER + "|true|false|null)";
        String object = null;
        for (int d = 0; d < depth; d++) {
            String inner = object == null ? value : "(" + value + "|" + object + "|" + array(object, value) + ")";
            object = "\\{" + SEP + "(" + STRING + SEP + ":" + SEP + inner + "(" + SEP + "," + SEP + STRING + SEP + ":"
                    + SEP + inner + ")*)?" + SEP + "\\}";
        }
        return object;
    }

    private static String array(String object, String value) {
        String item = "(" + value + "|" + object + ")";
        return "\\[" + SEP + "(" + item + "(" + SEP + "," + SEP + item + ")*)?" + SEP + "\\]";
    }

    private String value(JsonNode s, String where) {
        // A schema embedded in another (a tool's parameters inside the tool-call schema) keeps its own
        // $defs: its $refs resolve against the nearest enclosing definitions.
        boolean scope = s.isObject() && (s.has("$defs") || s.has("definitions")) && scopes.peek() != s;
        if (scope) {
            scopes.push(s);
        }
        try {
            return valueInScope(s, where);
        } finally {
            if (scope) {
                scopes.pop();
            }
        }
    }

    private String valueInScope(JsonNode s, String where) {
        if (s.isBoolean()) {
            if (!s.asBoolean()) {
                throw new IllegalArgumentException(where + ": false allows no value");
            }
            return anyObject(2) + "|" + STRING + "|" + NUMBER + "|true|false|null";
        }
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYWORDS.contains(k)) {
                throw new IllegalArgumentException(
                        where + ": the keyword \"" + k + "\" is not supported for constrained " + "output (supported: "
                                + String.join(", ", new TreeSet<>(KEYWORDS)) + ")");
            }
        }
        if (s.has("format")) {
            format(s, where);
        }
        if (s.has("$ref")) {
            return ref(s.get("$ref").asText(), where);
        }
        if (s.has("const")) {
            return literalJson(s.get("const"));
        }
        if (s.has("enum")) {
            if (!s.get("enum").isArray() || s.get("enum").isEmpty()) {
                throw new IllegalArgumentException(where + ".enum: must be a non-empty array");
            }
            List<String> options = new ArrayList<>();
            s.get("enum").forEach(v -> options.add(literalJson(v)));
            return "(" + String.join("|", options) + ")";
        }
        for (String alt : new String[] {"anyOf", "oneOf"}) {
            if (s.has(alt)) {
                List<String> options = new ArrayList<>();
                int i = 0;
                for (JsonNode option : s.get(alt)) {
                    options.add("(" + value(option, where + "." + alt + "[" + i++ + "]") + ")");
                }
                if (options.isEmpty()) {
                    throw new IllegalArgumentException(where + "." + alt + ": must list at least one schema");
                }
                return "(" + String.join("|", options) + ")";
            }
        }
        JsonNode type = s.get("type");
        if (type == null) {
            if (s.has("minimum") || s.has("maximum")) {
                throw new IllegalArgumentException(
                        where + ": minimum/maximum are supported with \"type\": \"integer\" only");
            }
            if (s.has("properties")) {
                return object(s, where);
            }
            if (s.has("items")) {
                return array(s, where);
            }
            return value(Json.MAPPER.getNodeFactory().booleanNode(true), where);
        }
        if (type.isArray()) {
            List<String> options = new ArrayList<>();
            for (JsonNode t : type) {
                options.add("(" + typed(t.asText(), s, where) + ")");
            }
            return "(" + String.join("|", options) + ")";
        }
        return typed(type.asText(), s, where);
    }

    private String typed(String type, JsonNode s, String where) {
        return switch (type) {
            case "object" -> object(s, where);
            case "array" -> array(s, where);
            case "string" -> string(s, where);
            case "integer" -> integer(s, where);
            case "number" -> {
                if (s.has("minimum") || s.has("maximum")) {
                    throw new IllegalArgumentException(where + ": minimum/maximum are supported on integers only "
                            + "(type \"integer\"), not on numbers");
                }
                yield NUMBER;
            }
            case "boolean" -> "(true|false)";
            case "null" -> "null";
            default -> throw new IllegalArgumentException(where + ".type: \"" + type + "\" is not a JSON Schema type");
        };
    }

    /**
     * {@code format}: the widths Java schema generators write for numbers (victools, springdoc:
     * {@code int32}/{@code int64} on integers, {@code float}/{@code double} on numbers) are kept
     * (int32 bounds the integer); any other format (date-time, email, uuid...) would be a promise the
     * grammar does not keep, so it is refused.
     */
    private static void format(JsonNode s, String where) {
        String f = s.get("format").asText();
        String type = s.path("type").asText();
        boolean width = type.equals("integer") && (f.equals("int32") || f.equals("int64"))
                || type.equals("number") && (f.equals("float") || f.equals("double"));
        if (!width) {
            throw new IllegalArgumentException(
                    where + ": the keyword \"format\" is not supported for constrained output " + "here (\"" + f
                            + "\"; only int32/int64 on integers and float/double on numbers are kept)");
        }
    }

    /** Largest magnitude {@link #INTEGER} writes (16 digits). */
    private static final long INTEGER_LIMIT = 9_999_999_999_999_999L;

    private String integer(JsonNode s, String where) {
        boolean int32 = s.path("format").asText().equals("int32");
        if (!s.has("minimum") && !s.has("maximum") && !int32) {
            return INTEGER;
        }
        long min = bound(s, "minimum", -INTEGER_LIMIT, where);
        long max = bound(s, "maximum", INTEGER_LIMIT, where);
        if (int32) {
            min = Math.max(min, Integer.MIN_VALUE);
            max = Math.min(max, Integer.MAX_VALUE);
        }
        if (min > max) {
            throw new IllegalArgumentException(where + ": minimum " + min + " / maximum " + max + " allow no integer");
        }
        List<String> parts = new ArrayList<>();
        if (min < 0) {
            // -1 .. min as "-" and the magnitudes max(1, -max) .. -min.
            parts.add("\\-(" + digits(Math.max(1, max < 0 ? -max : 1), -min) + ")");
        }
        if (max >= 0) {
            parts.add("(" + digits(Math.max(0, min), max) + ")");
        }
        return "(" + String.join("|", parts) + ")";
    }

    private static long bound(JsonNode s, String key, long unbounded, String where) {
        JsonNode v = s.get(key);
        if (v == null) {
            return unbounded;
        }
        if (!v.isNumber() || v.asDouble() != Math.rint(v.asDouble())) {
            throw new IllegalArgumentException(where + "." + key + ": expected a whole number, got " + v);
        }
        // Past 16 digits the bound is INTEGER's own (what an answer can write at all).
        BigDecimal limit = BigDecimal.valueOf(INTEGER_LIMIT);
        BigDecimal d = v.decimalValue();
        if (key.equals("minimum") && d.compareTo(limit) > 0
                || key.equals("maximum") && d.compareTo(limit.negate()) < 0) {
            throw new IllegalArgumentException(
                    where + "." + key + ": " + v + " leaves no integer of at most 16 digits");
        }
        return d.max(limit.negate()).min(limit).longValueExact();
    }

    /** The decimal numbers {@code lo..hi} ({@code 0 <= lo <= hi}), without leading zeros, as a regex. */
    static String digits(long lo, long hi) {
        List<String> out = new ArrayList<>();
        String l = Long.toString(lo);
        String h = Long.toString(hi);
        for (int len = l.length(); len <= h.length(); len++) {
            long from = Math.max(lo, len == 1 ? 0 : pow10(len - 1));
            long to = Math.min(hi, pow10(len) - 1);
            sameLength(Long.toString(from), Long.toString(to), "", out);
        }
        return String.join("|", out);
    }

    private static long pow10(int n) {
        long p = 1;
        for (int i = 0; i < n; i++) {
            p *= 10;
        }
        return p;
    }

    /** Numbers of one length from {@code lo} to {@code hi}, after {@code prefix}: the usual split at each digit. */
    private static void sameLength(String lo, String hi, String prefix, List<String> out) {
        if (lo.isEmpty()) {
            out.add(prefix);
            return;
        }
        int rest = lo.length() - 1;
        char l0 = lo.charAt(0);
        char h0 = hi.charAt(0);
        if (l0 == h0) {
            sameLength(lo.substring(1), hi.substring(1), prefix + l0, out);
            return;
        }
        boolean lowFull = lo.substring(1).chars().allMatch(c -> c == '0');
        boolean highFull = hi.substring(1).chars().allMatch(c -> c == '9');
        char from = l0;
        char to = h0;
        if (!lowFull) {
            sameLength(lo.substring(1), "9".repeat(rest), prefix + l0, out);
            from++;
        }
        if (!highFull) {
            to--;
        }
        if (from <= to) {
            out.add(prefix
                    + (from == to ? String.valueOf(from) : "[" + from + "-" + to + "]")
                    + (rest == 0 ? "" : "[0-9]" + (rest == 1 ? "" : "{" + rest + "}")));
        }
        if (!highFull) {
            sameLength("0".repeat(rest), hi.substring(1), prefix + h0, out);
        }
    }

    private String string(JsonNode s, String where) {
        int min = s.path("minLength").asInt(0);
        int max = s.has("maxLength") ? s.get("maxLength").asInt() : -1;
        if (min < 0 || (max >= 0 && max < min)) {
            throw new IllegalArgumentException(
                    where + ": minLength " + min + " / maxLength " + max + " allow no string");
        }
        if (min == 0 && max < 0) {
            return STRING;
        }
        return QUOTE + CHAR + "{" + min + "," + (max < 0 ? "" : max) + "}" + QUOTE;
    }

    private String object(JsonNode s, String where) {
        JsonNode extra = s.get("additionalProperties");
        if (extra != null && extra.isObject() && !s.has("properties")) {
            throw new IllegalArgumentException(where + ".additionalProperties: a schema for the values of free keys is "
                    + "not supported (true, false, or declared properties are)");
        }
        if (!s.has("properties") && !(extra != null && extra.isBoolean() && !extra.asBoolean())) {
            return anyObject(2); // {"type": "object"} alone: any object (nesting bounded), not only {}
        }
        JsonNode props = s.path("properties");
        if (s.has("required")) {
            for (JsonNode r : s.get("required")) {
                if (!props.has(r.asText())) {
                    throw new IllegalArgumentException(
                            where + ".required: \"" + r.asText() + "\" is not among its properties"
                                    + " (constrained output lists declared properties only)");
                }
            }
        }
        List<String> parts = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> p = it.next();
            parts.add(literalJson(Json.MAPPER.getNodeFactory().textNode(p.getKey())) + SEP + ":" + SEP + "("
                    + value(p.getValue(), where + ".properties." + p.getKey()) + ")");
        }
        if (parts.isEmpty()) {
            return "\\{" + SEP + "\\}";
        }
        return "\\{" + SEP + String.join(SEP + "," + SEP, parts) + SEP + "\\}";
    }

    private String array(JsonNode s, String where) {
        JsonNode items = s.get("items");
        String item = items == null
                ? value(Json.MAPPER.getNodeFactory().booleanNode(true), where + ".items")
                : value(items, where + ".items");
        int min = s.path("minItems").asInt(0);
        int max = s.has("maxItems") ? s.get("maxItems").asInt() : -1;
        if (min < 0 || (max >= 0 && max < min)) {
            throw new IllegalArgumentException(where + ": minItems " + min + " / maxItems " + max + " allow no array");
        }
        String one = "(" + item + ")";
        if (max == 0) {
            return "\\[" + SEP + "\\]";
        }
        String more = "(" + SEP + "," + SEP + one + "){" + Math.max(0, min - 1) + "," + (max < 0 ? "" : max - 1) + "}";
        String body = one + more;
        return "\\[" + SEP + (min == 0 ? "(" + body + ")?" : body) + SEP + "\\]";
    }

    private String ref(String ref, String where) {
        String prefix =
                ref.startsWith("#/$defs/") ? "#/$defs/" : ref.startsWith("#/definitions/") ? "#/definitions/" : null;
        if (prefix == null) {
            throw new IllegalArgumentException(where + ".$ref: only local references to #/$defs/NAME or "
                    + "#/definitions/NAME are supported, got " + ref);
        }
        String name = ref.substring(prefix.length());
        JsonNode target = null;
        for (JsonNode scope : scopes) {
            target = scope.path(prefix.equals("#/$defs/") ? "$defs" : "definitions")
                    .get(name);
            if (target != null) {
                break;
            }
        }
        if (target == null) {
            throw new IllegalArgumentException(where + ".$ref: " + ref + " is not defined");
        }
        if (!resolving.add(ref)) {
            throw new IllegalArgumentException(
                    where + ".$ref: " + ref + " is recursive (a regular language cannot nest " + "without bound)");
        }
        try {
            return value(target, ref);
        } finally {
            resolving.remove(ref);
        }
    }

    /** A JSON value written exactly (as Jackson writes it), as a regex. */
    private static String literalJson(JsonNode v) {
        return Constraint.literal(v.toString());
    }
}
