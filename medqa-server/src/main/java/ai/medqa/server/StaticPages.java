package ai.medqa.server;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.util.Set;

/** The chat page's files, served from the classpath with a policy that lets them load only themselves. */
final class StaticPages {
    private static final Set<String> PAGES = Set.of("index.html", "app.js", "style.css");

    private StaticPages() {}

    /** The file {@code path} names ({@code /} is the page itself), or null when it names none. */
    static String file(String path) {
        if (path.equals("/")) {
            return "index.html";
        }
        return path.startsWith("/") && PAGES.contains(path.substring(1)) ? path.substring(1) : null;
    }

    static int send(HttpExchange ex, String name) throws IOException {
        try (InputStream in = MedQAServer.class.getResourceAsStream("static/" + name)) {
            if (in == null) {
                throw ApiException.notFound("not_found", null, "no page " + name);
            }
            byte[] body = in.readAllBytes();
            String type = name.endsWith(".html")
                    ? "text/html; charset=utf-8"
                    : name.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8";
            ex.getResponseHeaders()
                    .set(
                            "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; "
                                    + "style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'");
            return Exchanges.send(ex, 200, type, body);
        }
    }
}
