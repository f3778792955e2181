package ai.medqa.generate;

import ai.medqa.common.Json;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.annotation.Annotation;
import java.lang.reflect.AnnotatedElement;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A JSON Schema derived from a Java record, in the subset {@link Constraint#jsonSchema} enforces, so
 * that a constrained answer always parses into the record with Jackson:
 *
 * <ul>
 *   <li>a record is an object with its components in declaration order, all required,
 *       {@code additionalProperties: false}; Jackson's {@code @JsonProperty("name")} on a component
 *       renames it and {@code @JsonPropertyDescription} becomes its {@code description} (shown to
 *       the model when the schema is in the prompt; the constraint ignores it);
 *   <li>{@code String} is a string; {@code int}, {@code short}, {@code byte} (and their boxes) are
 *       integers bounded to their range (an answer of 16 digits would not fit an {@code int}),
 *       {@code long}/{@code Long}/{@code BigInteger} integers; {@code double}, {@code float} (and
 *       boxes), {@code BigDecimal} numbers; {@code boolean} a boolean;
 *   <li>an enum is an {@code enum} of its constants' names, or their {@code @JsonProperty} values
 *       where annotated (as Jackson reads them);
 *   <li>{@code List<X>}, {@code Set<X>} and {@code X[]} are arrays of X; {@code Optional<X>} is
 *       {@code anyOf [X, null]}; a nested record is a nested object (inlined wherever it is used).
 * </ul>
 *
 * Anything else (maps, {@code Object}, interfaces, type variables, a record that contains itself:
 * a regular language cannot nest without bound) is refused with an {@link IllegalArgumentException}
 * naming the component and its type.
 */
public final class JsonSchemas {
    private static final Set<Class<?>> INTEGERS_64 = Set.of(long.class, Long.class, BigInteger.class);
    private static final Set<Class<?>> NUMBERS =
            Set.of(double.class, Double.class, float.class, Float.class, BigDecimal.class);
    private static final Map<Class<?>, long[]> BOUNDED_INTEGERS = Map.of(
            int.class, new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE},
            Integer.class, new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE},
            short.class, new long[] {Short.MIN_VALUE, Short.MAX_VALUE},
            Short.class, new long[] {Short.MIN_VALUE, Short.MAX_VALUE},
            byte.class, new long[] {Byte.MIN_VALUE, Byte.MAX_VALUE},
            Byte.class, new long[] {Byte.MIN_VALUE, Byte.MAX_VALUE});

    /** The records being derived, outermost first: one met again inside itself is recursive. */
    private final Deque<Class<?>> path = new ArrayDeque<>();

    private JsonSchemas() {}

    /**
     * The schema of record {@code type}.
     *
     * @throws IllegalArgumentException when {@code type} is not a record, or a component's type has no
     *     schema here (naming the component and the type)
     */
    public static JsonNode of(Class<?> type) {
        if (type == null || !type.isRecord()) {
            throw new IllegalArgumentException(
                    "a typed answer is a Java record, got " + (type == null ? "null" : type.getTypeName()));
        }
        return new JsonSchemas().record(type, type.getSimpleName());
    }

    private ObjectNode record(Class<?> type, String where) {
        if (path.contains(type)) {
            throw new IllegalArgumentException(where + ": record " + type.getTypeName() + " contains itself (recursive "
                    + "types cannot be constrained: a regular language cannot nest without bound)");
        }
        path.push(type);
        try {
            ObjectNode schema = Json.MAPPER.createObjectNode();
            schema.put("type", "object");
            ObjectNode properties = schema.putObject("properties");
            ArrayNode required = Json.MAPPER.createArrayNode();
            for (RecordComponent c : type.getRecordComponents()) {
                String name = c.getName();
                JsonProperty renamed = annotation(type, c, JsonProperty.class);
                if (renamed != null && !renamed.value().isEmpty()) {
                    name = renamed.value();
                }
                String here = where + "." + c.getName();
                if (properties.has(name)) {
                    throw new IllegalArgumentException(here + ": the JSON name \"" + name + "\" is used by another "
                            + "component of " + type.getTypeName());
                }
                ObjectNode property = value(c.getGenericType(), here);
                JsonPropertyDescription description = annotation(type, c, JsonPropertyDescription.class);
                if (description != null && !description.value().isEmpty()) {
                    property.put("description", description.value());
                }
                properties.set(name, property);
                required.add(name);
            }
            schema.set("required", required);
            schema.put("additionalProperties", false);
            return schema;
        } finally {
            path.pop();
        }
    }

    /**
     * A component's annotation: Jackson's annotations do not target record components, so Java puts
     * them on the implicit field, accessor and constructor parameter instead; the field always has it.
     */
    private static <A extends Annotation> A annotation(Class<?> record, RecordComponent c, Class<A> kind) {
        A a = null;
        try {
            a = record.getDeclaredField(c.getName()).getAnnotation(kind);
        } catch (NoSuchFieldException e) {
            // Every record component has its field; nothing to read if a class loader hid it.
        }
        return a != null ? a : c.getAccessor().getAnnotation(kind);
    }

    private ObjectNode value(Type type, String where) {
        ObjectNode s = Json.MAPPER.createObjectNode();
        if (type instanceof Class<?> cls) {
            if (cls == String.class) {
                return s.put("type", "string");
            }
            if (cls == boolean.class || cls == Boolean.class) {
                return s.put("type", "boolean");
            }
            if (BOUNDED_INTEGERS.containsKey(cls)) {
                long[] range = BOUNDED_INTEGERS.get(cls);
                return s.put("type", "integer").put("minimum", (int) range[0]).put("maximum", (int) range[1]);
            }
            if (INTEGERS_64.contains(cls)) {
                return s.put("type", "integer");
            }
            if (NUMBERS.contains(cls)) {
                return s.put("type", "number");
            }
            if (cls.isEnum()) {
                return enumeration(cls, where);
            }
            if (cls.isArray() && cls.getComponentType() != char.class) {
                s.put("type", "array");
                s.set("items", value(cls.getComponentType(), where + "[]"));
                return s;
            }
            if (cls.isRecord()) {
                return record(cls, where);
            }
            throw refused(where, type, null);
        }
        if (type instanceof GenericArrayType array) {
            s.put("type", "array");
            s.set("items", value(array.getGenericComponentType(), where + "[]"));
            return s;
        }
        if (type instanceof ParameterizedType p && p.getRawType() instanceof Class<?> raw) {
            Type arg = p.getActualTypeArguments().length == 1 ? p.getActualTypeArguments()[0] : null;
            if (raw == List.class || raw == Set.class) {
                if (arg == null
                        || !(arg instanceof Class<?>
                                || arg instanceof ParameterizedType
                                || arg instanceof GenericArrayType)) {
                    throw refused(where, type, "a List or Set needs a concrete element type");
                }
                s.put("type", "array");
                s.set("items", value(arg, where + "[]"));
                return s;
            }
            if (raw == Optional.class) {
                if (arg == null
                        || !(arg instanceof Class<?>
                                || arg instanceof ParameterizedType
                                || arg instanceof GenericArrayType)) {
                    throw refused(where, type, "an Optional needs a concrete type");
                }
                ArrayNode anyOf = s.putArray("anyOf");
                anyOf.add(value(arg, where));
                anyOf.addObject().put("type", "null");
                return s;
            }
            if (raw.isRecord()) {
                throw refused(where, type, "generic records are not supported");
            }
        }
        throw refused(where, type, null);
    }

    private static ObjectNode enumeration(Class<?> type, String where) {
        for (Method m : type.getDeclaredMethods()) {
            if (m.isAnnotationPresent(JsonValue.class)) {
                throw new IllegalArgumentException(
                        where + ": enum " + type.getTypeName() + " is written by its @JsonValue "
                                + "method " + m.getName()
                                + "(), which a schema cannot know; name its constants' JSON values with "
                                + "@JsonProperty instead");
            }
        }
        ObjectNode s = Json.MAPPER.createObjectNode();
        ArrayNode values = s.putArray("enum");
        Set<String> seen = new HashSet<>();
        for (Object constant : type.getEnumConstants()) {
            String name = ((Enum<?>) constant).name();
            JsonProperty p;
            try {
                AnnotatedElement field = type.getField(name);
                p = field.getAnnotation(JsonProperty.class);
            } catch (NoSuchFieldException e) {
                throw new IllegalStateException(
                        "enum constant " + name + " of " + type.getTypeName() + " has no field", e);
            }
            String value = p != null && !p.value().isEmpty() ? p.value() : name;
            if (seen.add(value)) {
                values.add(value);
            }
        }
        if (values.isEmpty()) {
            throw new IllegalArgumentException(
                    where + ": enum " + type.getTypeName() + " has no constants: no answer fits");
        }
        return s;
    }

    private static IllegalArgumentException refused(String where, Type type, String why) {
        return new IllegalArgumentException(
                where + ": type " + type.getTypeName() + " has no JSON Schema for constrained "
                        + "answers" + (why != null ? " (" + why + ")" : "")
                        + "; supported: String, integers (int, long, short, byte, "
                        + "BigInteger), numbers (double, float, BigDecimal), boolean, enums, List/Set/arrays of them, Optional, "
                        + "records");
    }
}
