package ai.medqa.server;

import com.sun.net.httpserver.Headers;
import java.util.List;
import java.util.Locale;

/**
 * What a browser on another site must not be able to do to a local server, checked before any
 * route: read it through DNS rebinding (a name the attacker controls resolving to 127.0.0.1), write
 * to it with a cross-site form or {@code fetch(..., {mode: "no-cors"})}, or call it from a page of
 * another origin.
 *
 * <ul>
 *   <li><b>Host</b>: an IP literal, {@code localhost} (or a {@code .localhost} name), the bound host
 *       name, or one of {@code allowedHosts} (Django's {@code ALLOWED_HOSTS} form: a leading dot
 *       matches subdomains, {@code *} anything). Rebinding needs a DNS name, so IP literals are
 *       safe to accept (as webpack-dev-server's {@code allowedHosts: "auto"} does).
 *   <li><b>Origin</b>, when a browser sends one: this server's own ({@code http://} + its Host) or
 *       one of {@code allowedOrigins} ({@code *} any), which then get CORS headers and preflights.
 *   <li><b>Content-Type</b> of a POST: {@code application/json}. Cross-site forms and no-cors
 *       fetches can only send text/plain, form or multipart bodies without a preflight.
 * </ul>
 */
final class RequestGuard {
    private final String boundHost;
    private final List<String> allowedHosts;
    private final List<String> allowedOrigins;

    RequestGuard(String boundHost, List<String> allowedHosts, List<String> allowedOrigins) {
        this.boundHost = boundHost.toLowerCase(Locale.ROOT);
        this.allowedHosts =
                allowedHosts.stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
        this.allowedOrigins = allowedOrigins.stream()
                .map(o -> stripSlash(o.toLowerCase(Locale.ROOT)))
                .toList();
    }

    /**
     * Checks a request's Host and Origin, and sets the CORS headers an allowed foreign origin gets.
     *
     * @return true when the request is a CORS preflight that has been answered by its headers (send 204)
     */
    boolean check(String method, Headers request, Headers response) {
        String host = request.getFirst("Host");
        if (host != null && !hostAllowed(host)) {
            throw ApiException.forbidden(
                    "host_not_allowed",
                    "Host \"" + host
                            + "\" is not allowed (DNS rebinding protection); start the server with --allowed-hosts "
                            + hostName(host) + " to serve that name");
        }
        String origin = request.getFirst("Origin");
        if (origin == null) {
            if (method.equals("OPTIONS")) {
                throw ApiException.methodNotAllowed(
                        "OPTIONS is only answered as a CORS preflight (with an Origin header)", "GET, POST");
            }
            return false;
        }
        if (host != null
                && stripSlash(origin.toLowerCase(Locale.ROOT)).equals("http://" + host.toLowerCase(Locale.ROOT))) {
            return false; // same origin: the chat page
        }
        if (!allowedOrigins.contains("*") && !allowedOrigins.contains(stripSlash(origin.toLowerCase(Locale.ROOT)))) {
            throw ApiException.forbidden(
                    "origin_not_allowed",
                    "requests from origin \"" + origin
                            + "\" are refused (cross-site protection); start the server with --allowed-origins "
                            + origin + " to let that site call it");
        }
        response.set("Access-Control-Allow-Origin", origin);
        response.add("Vary", "Origin");
        if (method.equals("OPTIONS")) {
            response.set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
            response.set("Access-Control-Allow-Headers", "Authorization, Content-Type");
            response.set("Access-Control-Max-Age", "600");
            return true;
        }
        return false;
    }

    /** A POST's body must be declared JSON: the one thing a cross-site form cannot send without a preflight. */
    static void requireJson(Headers request) {
        String type = request.getFirst("Content-Type");
        String media = type == null ? "" : type.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
        if (!media.equals("application/json")) {
            throw ApiException.unsupportedMediaType("the body must be sent as Content-Type: application/json"
                    + (type == null ? " (none was given)" : ", not " + type));
        }
    }

    boolean hostAllowed(String hostHeader) {
        String name = hostName(hostHeader);
        if (name.isEmpty()) {
            return false;
        }
        if (allowedHosts.contains("*")
                || name.equals("localhost")
                || name.endsWith(".localhost")
                || name.equals(boundHost)
                || isIpLiteral(name)) {
            return true;
        }
        for (String allowed : allowedHosts) {
            if (allowed.equals(name)
                    || (allowed.startsWith(".") && (name.endsWith(allowed) || name.equals(allowed.substring(1))))) {
                return true;
            }
        }
        return false;
    }

    /** The Host header without its port, lower case; an IPv6 literal keeps its brackets. */
    static String hostName(String hostHeader) {
        String h = hostHeader.trim().toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            return end < 0 ? "" : h.substring(0, end + 1);
        }
        int colon = h.indexOf(':');
        return colon < 0 ? h : h.substring(0, colon);
    }

    private static boolean isIpLiteral(String name) {
        if (name.startsWith("[") && name.endsWith("]")) {
            return name.length() > 2 && name.substring(1, name.length() - 1).matches("[0-9a-f:.]+");
        }
        String[] parts = name.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String p : parts) {
            if (!p.matches("\\d{1,3}") || Integer.parseInt(p) > 255) {
                return false;
            }
        }
        return true;
    }

    private static String stripSlash(String origin) {
        return origin.endsWith("/") ? origin.substring(0, origin.length() - 1) : origin;
    }
}
