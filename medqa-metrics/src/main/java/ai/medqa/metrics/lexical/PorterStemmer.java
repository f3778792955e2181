package ai.medqa.metrics.lexical;

import java.util.Map;

/**
 * nltk 3.8's {@code PorterStemmer()} in its default NLTK_EXTENSIONS mode, which rouge-score uses
 * for {@code use_stemmer=True}. A port rather than a Java Porter library because nltk's mode
 * differs from Porter's original (irregular forms, "ies" on 4-letter words, "alli", "fulli",
 * "logi", the two-letter cvc rule) and those differences change ROUGE scores.
 *
 * <p>Expects lowercase input (rouge-score lowercases first); thread-safe.
 */
public final class PorterStemmer {
    private static final Map<String, String> POOL = Map.ofEntries(
            Map.entry("sky", "sky"),
            Map.entry("skies", "sky"),
            Map.entry("dying", "die"),
            Map.entry("lying", "lie"),
            Map.entry("tying", "tie"),
            Map.entry("news", "news"),
            Map.entry("innings", "inning"),
            Map.entry("inning", "inning"),
            Map.entry("outings", "outing"),
            Map.entry("outing", "outing"),
            Map.entry("cannings", "canning"),
            Map.entry("canning", "canning"),
            Map.entry("howe", "howe"),
            Map.entry("proceed", "proceed"),
            Map.entry("exceed", "exceed"),
            Map.entry("succeed", "succeed"));

    private interface Condition {
        boolean test(String stem);
    }

    private record Rule(String suffix, String replacement, Condition condition) {}

    /** {@code PorterStemmer().stem(word)} (which lowercases first). */
    public String stem(String word) {
        String stem = PyText.lower(word);
        // nltk looks up the original word, not the lowercased one.
        if (POOL.containsKey(word)) {
            return POOL.get(stem);
        }
        if (word.length() <= 2) {
            return stem;
        }
        stem = step1a(stem);
        stem = step1b(stem);
        stem = step1c(stem);
        stem = step2(stem);
        stem = step3(stem);
        stem = step4(stem);
        stem = step5a(stem);
        stem = step5b(stem);
        return stem;
    }

    private static boolean isConsonant(String word, int i) {
        char c = word.charAt(i);
        if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') {
            return false;
        }
        if (c == 'y') {
            return i == 0 || !isConsonant(word, i - 1);
        }
        return true;
    }

    /** Number of "vc" pairs in the consonant/vowel pattern. */
    private static int measure(String stem) {
        int m = 0;
        boolean prevVowel = false;
        for (int i = 0; i < stem.length(); i++) {
            boolean consonant = isConsonant(stem, i);
            if (consonant && prevVowel) {
                m++;
            }
            prevVowel = !consonant;
        }
        return m;
    }

    private static boolean hasPositiveMeasure(String stem) {
        return measure(stem) > 0;
    }

    private static boolean containsVowel(String stem) {
        for (int i = 0; i < stem.length(); i++) {
            if (!isConsonant(stem, i)) {
                return true;
            }
        }
        return false;
    }

    private static boolean endsDoubleConsonant(String word) {
        int n = word.length();
        return n >= 2 && word.charAt(n - 1) == word.charAt(n - 2) && isConsonant(word, n - 1);
    }

    private static boolean endsCvc(String word) {
        int n = word.length();
        if (n >= 3 && isConsonant(word, n - 3) && !isConsonant(word, n - 2) && isConsonant(word, n - 1)) {
            char last = word.charAt(n - 1);
            if (last != 'w' && last != 'x' && last != 'y') {
                return true;
            }
        }
        return n == 2 && !isConsonant(word, 0) && isConsonant(word, 1);
    }

    private static String dropSuffix(String word, String suffix) {
        return word.substring(0, word.length() - suffix.length());
    }

    private static String applyRuleList(String word, Rule[] rules) {
        for (Rule rule : rules) {
            if (rule.suffix.equals("*d") && endsDoubleConsonant(word)) {
                String stem = word.substring(0, word.length() - 2);
                return rule.condition == null || rule.condition.test(stem) ? stem + rule.replacement : word;
            }
            if (word.endsWith(rule.suffix)) {
                String stem = dropSuffix(word, rule.suffix);
                return rule.condition == null || rule.condition.test(stem) ? stem + rule.replacement : word;
            }
        }
        return word;
    }

    private static final Rule[] STEP1A = {
        new Rule("sses", "ss", null), new Rule("ies", "i", null),
        new Rule("ss", "ss", null), new Rule("s", "", null),
    };

    private static String step1a(String word) {
        if (word.endsWith("ies") && word.length() == 4) {
            return dropSuffix(word, "ies") + "ie";
        }
        return applyRuleList(word, STEP1A);
    }

    private static String step1b(String word) {
        if (word.endsWith("ied")) {
            return dropSuffix(word, "ied") + (word.length() == 4 ? "ie" : "i");
        }
        if (word.endsWith("eed")) {
            String stem = dropSuffix(word, "eed");
            return measure(stem) > 0 ? stem + "ee" : word;
        }
        String intermediate = null;
        for (String suffix : new String[] {"ed", "ing"}) {
            if (word.endsWith(suffix)) {
                String candidate = dropSuffix(word, suffix);
                if (containsVowel(candidate)) {
                    intermediate = candidate;
                    break;
                }
            }
        }
        if (intermediate == null) {
            return word;
        }
        // Python evaluates intermediate_stem[-1] when it builds the rule list, so an empty stem
        // would raise there; containsVowel guarantees a non-empty stem.
        char last = intermediate.charAt(intermediate.length() - 1);
        Rule[] rules = {
            new Rule("at", "ate", null),
            new Rule("bl", "ble", null),
            new Rule("iz", "ize", null),
            new Rule("*d", String.valueOf(last), stem -> last != 'l' && last != 's' && last != 'z'),
            new Rule("", "e", stem -> measure(stem) == 1 && endsCvc(stem)),
        };
        return applyRuleList(intermediate, rules);
    }

    private static final Rule[] STEP1C = {
        new Rule("y", "i", stem -> stem.length() > 1 && isConsonant(stem, stem.length() - 1)),
    };

    private static String step1c(String word) {
        return applyRuleList(word, STEP1C);
    }

    private static String step2(String word) {
        if (word.endsWith("alli") && hasPositiveMeasure(dropSuffix(word, "alli"))) {
            return step2(dropSuffix(word, "alli") + "al");
        }
        Condition pos = PorterStemmer::hasPositiveMeasure;
        Rule[] rules = {
            new Rule("ational", "ate", pos),
            new Rule("tional", "tion", pos),
            new Rule("enci", "ence", pos),
            new Rule("anci", "ance", pos),
            new Rule("izer", "ize", pos),
            new Rule("bli", "ble", pos),
            new Rule("alli", "al", pos),
            new Rule("entli", "ent", pos),
            new Rule("eli", "e", pos),
            new Rule("ousli", "ous", pos),
            new Rule("ization", "ize", pos),
            new Rule("ation", "ate", pos),
            new Rule("ator", "ate", pos),
            new Rule("alism", "al", pos),
            new Rule("iveness", "ive", pos),
            new Rule("fulness", "ful", pos),
            new Rule("ousness", "ous", pos),
            new Rule("aliti", "al", pos),
            new Rule("iviti", "ive", pos),
            new Rule("biliti", "ble", pos),
            new Rule("fulli", "ful", pos),
            // nltk tests word[:-3], i.e. the stem plus "l", not the stem.
            new Rule("logi", "log", stem -> hasPositiveMeasure(word.substring(0, word.length() - 3))),
        };
        return applyRuleList(word, rules);
    }

    private static final Condition POS = PorterStemmer::hasPositiveMeasure;
    private static final Rule[] STEP3 = {
        new Rule("icate", "ic", POS), new Rule("ative", "", POS), new Rule("alize", "al", POS),
        new Rule("iciti", "ic", POS), new Rule("ical", "ic", POS), new Rule("ful", "", POS),
        new Rule("ness", "", POS),
    };

    private static String step3(String word) {
        return applyRuleList(word, STEP3);
    }

    private static final Condition GT1 = stem -> measure(stem) > 1;
    private static final Rule[] STEP4 = {
        new Rule("al", "", GT1),
        new Rule("ance", "", GT1),
        new Rule("ence", "", GT1),
        new Rule("er", "", GT1),
        new Rule("ic", "", GT1),
        new Rule("able", "", GT1),
        new Rule("ible", "", GT1),
        new Rule("ant", "", GT1),
        new Rule("ement", "", GT1),
        new Rule("ment", "", GT1),
        new Rule("ent", "", GT1),
        new Rule("ion", "", stem -> measure(stem) > 1 && (stem.endsWith("s") || stem.endsWith("t"))),
        new Rule("ou", "", GT1),
        new Rule("ism", "", GT1),
        new Rule("ate", "", GT1),
        new Rule("iti", "", GT1),
        new Rule("ous", "", GT1),
        new Rule("ive", "", GT1),
        new Rule("ize", "", GT1),
    };

    private static String step4(String word) {
        return applyRuleList(word, STEP4);
    }

    private static String step5a(String word) {
        if (word.endsWith("e")) {
            String stem = dropSuffix(word, "e");
            int m = measure(stem);
            if (m > 1 || (m == 1 && !endsCvc(stem))) {
                return stem;
            }
        }
        return word;
    }

    private static String step5b(String word) {
        if (word.endsWith("ll") && measure(word.substring(0, word.length() - 1)) > 1) {
            return word.substring(0, word.length() - 1);
        }
        return word;
    }
}
