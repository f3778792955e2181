package ai.medqa.metrics.pubmedqa;

import java.util.Locale;
import java.util.Optional;

/** PubMedQA's {@code final_decision}. */
public enum PubMedQaLabel {
    YES,
    NO,
    MAYBE;

    /** The label as the data set writes it: {@code yes}, {@code no}, {@code maybe}. */
    public String text() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Exact (case-insensitive, trimmed) label text, or empty. */
    public static Optional<PubMedQaLabel> parse(String s) {
        if (s == null) {
            return Optional.empty();
        }
        switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "yes":
                return Optional.of(YES);
            case "no":
                return Optional.of(NO);
            case "maybe":
                return Optional.of(MAYBE);
            default:
                return Optional.empty();
        }
    }
}
