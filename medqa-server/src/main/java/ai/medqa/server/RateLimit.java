package ai.medqa.server;

import java.time.Duration;
import java.util.ArrayDeque;

/** At most {@code permits} acquisitions in any sliding {@code window}. */
final class RateLimit {
    private final int permits;
    private final long windowNanos;
    private final ArrayDeque<Long> times = new ArrayDeque<>();

    RateLimit(int permits, Duration window) {
        this.permits = permits;
        this.windowNanos = window.toNanos();
    }

    /** 0 when granted, otherwise the whole seconds until one would be (nothing is taken then). */
    synchronized long acquire() {
        long now = System.nanoTime();
        while (!times.isEmpty() && now - times.peekFirst() >= windowNanos) {
            times.removeFirst();
        }
        if (times.size() < permits) {
            times.addLast(now);
            return 0;
        }
        long waitNanos = windowNanos - (now - times.peekFirst());
        return Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L);
    }
}
