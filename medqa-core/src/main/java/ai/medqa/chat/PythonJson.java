package ai.medqa.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.AdvancedFilter;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Jinja's {@code tojson} as transformers defines it for chat templates
 * ({@code json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)}),
 * so that templates that write JSON (tools, tool calls, arguments) render the characters
 * transformers renders: Python's separators ({@code ", "} and {@code ": "}), its float repr
 * ({@code 1e-05}, {@code 3.0}), its escapes ({@code \u0001}), non-ASCII kept. Jinjava's own
 * {@code tojson} writes Jackson's compact form instead.
 */
final class PythonJson implements AdvancedFilter {

    @Override
    public String getName() {
        return "tojson";
    }

    /** transformers' signature: {@code tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)}. */
    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
        Object ensureAscii = arg(args, kwargs, 0, "ensure_ascii");
        Object indent = arg(args, kwargs, 1, "indent");
        Object separators = arg(args, kwargs, 2, "separators");
        Object sortKeys = arg(args, kwargs, 3, "sort_keys");
        String item = indent == null ? ", " : ",";
        String key = ": ";
        if (separators instanceof List<?> l && l.size() == 2) {
            item = String.valueOf(l.get(0));
            key = String.valueOf(l.get(1));
        }
        return dumps(
                var,
                Boolean.TRUE.equals(ensureAscii),
                indent == null ? -1 : ((Number) indent).intValue(),
                item,
                key,
                Boolean.TRUE.equals(sortKeys));
    }

    private static Object arg(Object[] args, Map<String, Object> kwargs, int position, String name) {
        if (kwargs != null && kwargs.containsKey(name)) {
            return kwargs.get(name);
        }
        return args != null && args.length > position ? args[position] : null;
    }

    /** {@code json.dumps} of a Jinja value (maps, lists, strings, numbers, booleans, None). */
    static String dumps(
            Object value,
            boolean ensureAscii,
            int indent,
            String itemSeparator,
            String keySeparator,
            boolean sortKeys) {
        StringBuilder out = new StringBuilder();
        new Writer(out, ensureAscii, indent, itemSeparator, keySeparator, sortKeys).value(value, 0);
        return out.toString();
    }

    private record Writer(
            StringBuilder out,
            boolean ensureAscii,
            int indent,
            String itemSeparator,
            String keySeparator,
            boolean sortKeys) {

        void value(Object v, int level) {
            if (v == null) {
                out.append("null");
            } else if (v instanceof Boolean b) {
                out.append(b ? "true" : "false");
            } else if (v instanceof Integer
                    || v instanceof Long
                    || v instanceof Short
                    || v instanceof Byte
                    || v instanceof BigInteger) {
                out.append(v);
            } else if (v instanceof Number n) {
                out.append(pythonFloat(n.doubleValue()));
            } else if (v instanceof Map<?, ?> m) {
                List<Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
                if (sortKeys) {
                    entries.sort((a, b) -> String.valueOf(a.getKey()).compareTo(String.valueOf(b.getKey())));
                }
                out.append('{');
                for (int i = 0; i < entries.size(); i++) {
                    separator(i, level);
                    Object k = entries.get(i).getKey();
                    string(
                            k instanceof String s
                                    ? s
                                    : k == null ? "null" : k instanceof Boolean b ? String.valueOf(b) : k.toString());
                    out.append(keySeparator);
                    value(entries.get(i).getValue(), level + 1);
                }
                close('}', entries.isEmpty(), level);
            } else if (v instanceof Collection<?> || v instanceof Object[]) {
                List<?> items = v instanceof Object[] a ? List.of(a) : new ArrayList<>((Collection<?>) v);
                out.append('[');
                for (int i = 0; i < items.size(); i++) {
                    separator(i, level);
                    value(items.get(i), level + 1);
                }
                close(']', items.isEmpty(), level);
            } else {
                string(v.toString());
            }
        }

        private void separator(int i, int level) {
            if (i > 0) {
                out.append(itemSeparator);
            }
            if (indent >= 0) {
                out.append('\n').append(" ".repeat(indent * (level + 1)));
            }
        }

        private void close(char c, boolean empty, int level) {
            if (indent >= 0 && !empty) {
                out.append('\n').append(" ".repeat(indent * level));
            }
            out.append(c);
        }

        private void string(String s) {
            out.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    case '\b' -> out.append("\\b");
                    case '\f' -> out.append("\\f");
                    default -> {
                        if (c < 0x20 || (ensureAscii && c > 0x7e)) {
                            out.append(String.format("\\u%04x", (int) c));
                        } else {
                            out.append(c);
                        }
                    }
                }
            }
            out.append('"');
        }
    }

    /** Python's {@code repr(float)}: shortest digits; plain from 1e-4 to below 1e16, else {@code 1e-05}, {@code 1e+16}. */
    static String pythonFloat(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        if (d == 0) {
            return 1 / d < 0 ? "-0.0" : "0.0";
        }
        BigDecimal bd = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = bd.unscaledValue().abs().toString();
        int exponent = digits.length() - 1 - bd.scale(); // of the first digit
        String sign = d < 0 ? "-" : "";
        if (exponent >= -4 && exponent < 16) {
            String plain = bd.abs().toPlainString();
            return sign + (plain.contains(".") ? plain : plain + ".0");
        }
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (Math.abs(exponent) < 10 ? "0" : "")
                + Math.abs(exponent);
    }
}
