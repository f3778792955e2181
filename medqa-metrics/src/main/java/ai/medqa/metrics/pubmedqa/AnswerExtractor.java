package ai.medqa.metrics.pubmedqa;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Extracts yes/no/maybe from a model's free-text answer. Rules, first that applies wins:
 * <ol>
 *   <li>Lowercase; drop leading whitespace and decoration ({@code * " ' ( [ - # >} and the like).</li>
 *   <li>Drop one leading prefix: {@code final answer:}, {@code answer:}, {@code final decision:},
 *       {@code decision:}, {@code a:}, {@code the answer is}, then decoration again.</li>
 *   <li>The text now starts with {@code yes}, {@code no} or {@code maybe} as a whole word: that label
 *       ("Yes, because..." is yes; "Nobody knows" is not no).</li>
 *   <li>An explicit statement anywhere: {@code answer is X}, {@code answer: X}, {@code decision is X},
 *       {@code decision: X} (with optional {@code **} bold): the <em>last</em> one, since models
 *       restate their conclusion at the end.</li>
 *   <li>Exactly one of the three words occurs anywhere as a whole word: that label.</li>
 *   <li>Otherwise none: the caller decides (PubMedQA scoring counts it as its own wrong class).</li>
 * </ol>
 */
public final class AnswerExtractor {
    private static final Pattern DECORATION = Pattern.compile("^[\\s*\"'`(\\[{#>\\-_:.]+");
    private static final Pattern PREFIX = Pattern.compile(
            "^(?:final answer|answer|final decision|decision|a|the answer is)\\s*(?::|is)?(?=\\s|\\*|$|[\"'(])");
    private static final Pattern LEADING = Pattern.compile("^(yes|no|maybe)(?![\\p{L}\\p{N}_])");
    private static final Pattern EXPLICIT =
            Pattern.compile("(?:answer|decision)\\s*(?:is|:)\\s*[*\"'`(\\[]*\\s*(yes|no|maybe)(?![\\p{L}\\p{N}_])");
    private static final Pattern WORD = Pattern.compile("(?<![\\p{L}\\p{N}_])(yes|no|maybe)(?![\\p{L}\\p{N}_])");

    private AnswerExtractor() {}

    public static Optional<PubMedQaLabel> extract(String answer) {
        if (answer == null) {
            return Optional.empty();
        }
        String s = DECORATION.matcher(answer.toLowerCase(Locale.ROOT)).replaceFirst("");
        Matcher prefix = PREFIX.matcher(s);
        if (prefix.find()) {
            s = DECORATION.matcher(s.substring(prefix.end())).replaceFirst("");
        }
        Matcher lead = LEADING.matcher(s);
        if (lead.find()) {
            return PubMedQaLabel.parse(lead.group(1));
        }
        Matcher explicit = EXPLICIT.matcher(s);
        String last = null;
        while (explicit.find()) {
            last = explicit.group(1);
        }
        if (last != null) {
            return PubMedQaLabel.parse(last);
        }
        Set<PubMedQaLabel> seen = EnumSet.noneOf(PubMedQaLabel.class);
        Matcher word = WORD.matcher(s);
        while (word.find()) {
            seen.add(PubMedQaLabel.parse(word.group(1)).orElseThrow());
        }
        return seen.size() == 1 ? Optional.of(seen.iterator().next()) : Optional.empty();
    }
}
