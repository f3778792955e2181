package ai.medqa.server;

import ai.medqa.generate.BatchEngine;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** Counters behind {@code GET /metrics}, in Prometheus' text format. */
final class ServerMetrics {
    private final Map<String, AtomicLong> requests = new ConcurrentHashMap<>(); // "endpoint|status"
    final AtomicLong promptTokens = new AtomicLong();
    final AtomicLong completionTokens = new AtomicLong();
    private final long[] windowTokens = new long[11];
    private final long[] windowSecond = new long[11];
    private final ArrayDeque<Long> finished = new ArrayDeque<>(); // nanoTime of each, last minute

    void request(String endpoint, int status) {
        requests.computeIfAbsent(endpoint + "|" + status, k -> new AtomicLong()).incrementAndGet();
    }

    /** Completion tokens of one request, counted in the second they were reported. */
    synchronized void completed(int prompt, int completion) {
        promptTokens.addAndGet(prompt);
        completionTokens.addAndGet(completion);
        long second = System.currentTimeMillis() / 1000;
        int slot = (int) (second % windowTokens.length);
        if (windowSecond[slot] != second) {
            windowSecond[slot] = second;
            windowTokens[slot] = 0;
        }
        windowTokens[slot] += completion;
        long now = System.nanoTime();
        finished.addLast(now);
        dropOld(now);
    }

    /** Requests completed per second over the last minute (0 before the first). */
    synchronized double requestsPerSecond() {
        long now = System.nanoTime();
        dropOld(now);
        if (finished.isEmpty()) {
            return 0;
        }
        // Over the span actually observed (at least 1 s), so a server up for 5 s is not read as idle.
        double span = Math.max(1.0, Math.min(60.0, (now - finished.peekFirst()) / 1e9));
        return finished.size() / span;
    }

    private void dropOld(long now) {
        while (!finished.isEmpty() && now - finished.peekFirst() > 60_000_000_000L) {
            finished.removeFirst();
        }
    }

    /** Completion tokens per second over the last ten whole seconds. */
    synchronized double tokensPerSecond() {
        long now = System.currentTimeMillis() / 1000;
        long sum = 0;
        for (int i = 0; i < windowTokens.length; i++) {
            if (windowSecond[i] < now && windowSecond[i] >= now - 10) {
                sum += windowTokens[i];
            }
        }
        return sum / 10.0;
    }

    String render(BatchEngine engine) {
        StringBuilder s = new StringBuilder();
        s.append("# HELP medqa_requests_total HTTP requests by endpoint and status.\n");
        s.append("# TYPE medqa_requests_total counter\n");
        new TreeMap<>(requests).forEach((key, n) -> {
            int bar = key.lastIndexOf('|');
            s.append("medqa_requests_total{endpoint=\"")
                    .append(key, 0, bar)
                    .append("\",status=\"")
                    .append(key.substring(bar + 1))
                    .append("\"} ")
                    .append(n.get())
                    .append('\n');
        });
        counter(s, "medqa_prompt_tokens_total", "Prompt tokens of completed requests.", promptTokens.get());
        counter(s, "medqa_completion_tokens_total", "Tokens generated for completed requests.", completionTokens.get());
        gauge(s, "medqa_queue_length", "Requests waiting for a row.", engine == null ? 0 : engine.queued());
        gauge(s, "medqa_running_rows", "Rows being decoded.", engine == null ? 0 : engine.running());
        gauge(s, "medqa_tokens_per_second", "Completion tokens per second over the last 10 s.", tokensPerSecond());
        return s.toString();
    }

    private static void counter(StringBuilder s, String name, String help, long value) {
        s.append("# HELP ").append(name).append(' ').append(help).append('\n');
        s.append("# TYPE ")
                .append(name)
                .append(" counter\n")
                .append(name)
                .append(' ')
                .append(value)
                .append('\n');
    }

    private static void gauge(StringBuilder s, String name, String help, double value) {
        s.append("# HELP ").append(name).append(' ').append(help).append('\n');
        s.append("# TYPE ").append(name).append(" gauge\n").append(name).append(' ');
        if (value == Math.rint(value)) {
            s.append((long) value);
        } else {
            s.append(value);
        }
        s.append('\n');
    }
}
