package ai.medqa.generate;

import ai.medqa.tokenizer.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import dk.brics.automaton.Automaton;
import dk.brics.automaton.RegExp;
import dk.brics.automaton.RunAutomaton;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.IntPredicate;

/**
 * What a generated answer must look like, enforced while it is generated: at each step every token
 * that cannot continue a valid answer gets probability 0 (its logit -infinity, before the sampler's
 * processors), end-of-sequence is allowed only where the answer is complete, and the generation ends
 * by itself once nothing but its end can follow. So what comes out always matches, greedy or sampled.
 *
 * <p>A constraint is a regular language over the answer's characters (a DFA); the answer's text is
 * the concatenation of its tokens' pieces (SentencePiece's "▁" a space; byte tokens of non-ASCII bytes
 * are not used, so multi-byte characters come from the tokens that spell them whole). Up to four
 * blanks may lead any answer (a Mistral answer's first piece usually starts with "▁"; no more, or a
 * noisy model could spend its budget on them).
 * For each DFA state the set of allowed tokens is computed once, on first use, per tokenizer.
 *
 * <p>The budget is part of the mask: as the last tokens near, only those after which the answer can
 * still be completed in time are allowed (the fewest tokens from each state are known), so an answer
 * that can fit in {@code max_new_tokens} always ends complete, whatever the sampler draws. "Fit" is
 * counted in characters (each one token: a bound that is cheap to know); a budget below that may
 * still end complete, or cut with the reason "length", as a constraint that needs more than the
 * budget does (a warning says so at the start).
 */
public final class Constraint {
    /** Most automaton states a constraint may have. */
    public static final int MAX_STATES = 20_000;

    private final String description;
    private final String pattern;
    private final RunAutomaton dfa;
    private final Map<Tokenizer, Compiled> compiled = new WeakHashMap<>();
    /** A control token the answer may hold (its piece, e.g. "[TOOL_CALLS]"), as CONTROL in the regex; else null. */
    private final String control;

    private Constraint(String description, String regex) {
        this(description, regex, null);
    }

    private Constraint(String description, String regex, String control) {
        this.description = description;
        this.control = control;
        this.pattern = "[ \n]{0,4}(" + regex + ")";
        // RegExp.NONE: plain regular expressions (| * + ? {n,m} [...] . \ escapes), none of brics' extras.
        Automaton automaton = new RegExp(pattern, RegExp.NONE).toAutomaton();
        // Each state met keeps its allowed tokens (up to the vocabulary): bound the states, so that a
        // request cannot ask for gigabytes (a maxLength of thousands is a state per character).
        if (automaton.getNumberOfStates() > MAX_STATES) {
            throw new IllegalArgumentException(description + ": needs " + automaton.getNumberOfStates() + " automaton "
                    + "states, more than " + MAX_STATES + " (lower maxLength, maxItems or repetition counts)");
        }
        this.dfa = new RunAutomaton(automaton, true);
        if (dfa.getSize() == 0 || !reachable()) {
            throw new IllegalArgumentException(description + ": allows no answer at all");
        }
    }

    /** The answer is one of {@code options}, exactly. */
    public static Constraint choice(String... options) {
        if (options.length == 0) {
            throw new IllegalArgumentException("a choice needs at least one option");
        }
        StringBuilder re = new StringBuilder();
        for (String o : options) {
            if (Objects.requireNonNull(o, "option").isEmpty()) {
                throw new IllegalArgumentException("choice options must not be empty");
            }
            re.append(re.length() == 0 ? "" : "|").append(literal(o));
        }
        return new Constraint("choice " + String.join(" | ", options), re.toString());
    }

    /**
     * The answer matches {@code regex} entirely, written as Python's or JavaScript's regular
     * expressions are (alternation, groups incl. {@code (?:...)}, {@code * + ? {n,m}} also lazy,
     * character classes, {@code .}, {@code \d \w \s} and their negations, escapes; a leading
     * {@code ^} and trailing {@code $} are allowed). Look-arounds, back-references, word boundaries
     * and inner anchors are refused, naming them ({@link UserRegex}).
     */
    public static Constraint regex(String regex) {
        try {
            return new Constraint("regex " + regex, UserRegex.toBrics(regex));
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().endsWith("allows no answer at all")) {
                throw e;
            }
            throw new IllegalArgumentException("regex " + regex + ": " + e.getMessage(), e);
        }
    }

    /**
     * The answer is a JSON value valid against {@code schema} (a subset of JSON Schema: see
     * {@link JsonSchemaRegex}; other keywords are refused, naming them). Properties come in the
     * schema's order, all of them (optional ones included), on one line.
     */
    public static Constraint jsonSchema(JsonNode schema) {
        return new Constraint("JSON schema", JsonSchemaRegex.of(schema));
    }

    /**
     * The answer is the control token {@code token} (a special token of the tokenizer, e.g. Mistral's
     * {@code [TOOL_CALLS]}; nothing else may write it), an optional space and a JSON value valid
     * against {@code schema}; or, when {@code otherwise} is true, an answer that does not start with
     * that token, nor with its text spelled as ordinary pieces: JSON valid against
     * {@code replySchema}, or any text when that is null. So a program tells the two apart by the
     * token alone (Mistral v0.3's tool calls: {@code [TOOL_CALLS] [{"name": ..., "arguments": ...}]}).
     */
    public static Constraint controlTokenThenJson(
            String token, JsonNode schema, boolean otherwise, JsonNode replySchema) {
        if (Objects.requireNonNull(token, "token").isEmpty()) {
            throw new IllegalArgumentException("the control token must not be empty");
        }
        String re = CONTROL + " ?(" + JsonSchemaRegex.of(schema) + ")";
        if (otherwise) {
            re += "|" + (replySchema != null ? JsonSchemaRegex.of(replySchema) : notStartingWith(token));
        }
        return new Constraint(token + " then JSON schema" + (otherwise ? ", or a reply" : ""), re, token);
    }

    /** The character that stands for the control token in the regex (a private-use character no piece holds). */
    static final char CONTROL = '\uE000';

    /** Any text without CONTROL that does not start with {@code prefix}: every shorter prefix, or a first difference. */
    private static String notStartingWith(String prefix) {
        String any = "[^" + CONTROL + "]*";
        StringBuilder re = new StringBuilder("(");
        for (int i = 0; i < prefix.length(); i++) {
            // the first i characters of prefix, then a different character (or the text ends there)
            re.append(i == 0 ? "" : "|")
                    .append(literal(prefix.substring(0, i)))
                    .append("([^")
                    .append(CONTROL)
                    .append(escapeInClass(prefix.charAt(i)))
                    .append("]")
                    .append(any)
                    .append(")?");
        }
        return re.append(")").toString();
    }

    private static String escapeInClass(char c) {
        return Character.isLetterOrDigit(c) ? String.valueOf(c) : "\\" + c;
    }

    /** Any JSON object (nesting up to 3 levels deep: a regular language must bound it). */
    public static Constraint jsonObject() {
        return new Constraint("JSON object", JsonSchemaRegex.anyObject(3));
    }

    @Override
    public String toString() {
        return description;
    }

    /** The whole answer's regular expression (leading blanks included), as the DFA was built from it. */
    String pattern() {
        return pattern;
    }

    /** {@code text} as a regex matching exactly it. */
    static String literal(String text) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isLetterOrDigit(c) || c == ' ') {
                s.append(c);
            } else {
                s.append('\\').append(c);
            }
        }
        return s.toString();
    }

    private boolean reachable() {
        // Some state reachable from the start accepts (brics minimizes; a dead language has no accepting state).
        for (int s = 0; s < dfa.getSize(); s++) {
            if (dfa.isAccept(s)) {
                return true;
            }
        }
        return false;
    }

    /** A cursor for one generation: where its answer is in the DFA. */
    Cursor start(Tokenizer tokenizer) {
        Compiled c;
        synchronized (compiled) {
            c = compiled.computeIfAbsent(tokenizer, Compiled::new);
        }
        return new Cursor(c);
    }

    /**
     * The tokens' pieces as text; for each DFA state, the fewest tokens that complete an answer from
     * it; and the allowed tokens of each state met so far.
     */
    final class Compiled {
        final String[] pieces; // null: never allowed (special tokens, non-ASCII byte tokens)
        /**
         * An upper bound of the tokens that complete the answer from each state: the shortest path to
         * an accepting state over characters that are one token each (every ASCII character is, in a
         * SentencePiece vocabulary with byte fallback, and so are common letters of other scripts);
         * Integer.MAX_VALUE where none completes it (a character the vocabulary spells only in bytes).
         */
        final int[] toFinish;
        /**
         * The allowed tokens of each DFA state met so far, by state number (an array: this is read at
         * every step of every row). Two rows meeting a new state at once may both compute it; one wins.
         */
        private final AtomicReferenceArray<Allowed> allowed = new AtomicReferenceArray<>(dfa.getSize());

        Compiled(Tokenizer tokenizer) {
            pieces = new String[tokenizer.vocabSize()];
            BitSet singles = new BitSet(Character.MAX_VALUE + 1);
            for (int id = 0; id < pieces.length; id++) {
                if (tokenizer.isSpecial(id)) {
                    if (control != null && control.equals(tokenizer.idToPiece(id))) {
                        pieces[id] = String.valueOf(CONTROL);
                        singles.set(CONTROL);
                    }
                    continue;
                }
                String piece = tokenizer.idToPiece(id);
                if (piece == null || piece.isEmpty()) {
                    continue;
                }
                if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
                    int b = Integer.parseInt(piece.substring(3, 5), 16);
                    pieces[id] = b < 0x80 ? String.valueOf((char) b) : null;
                } else {
                    pieces[id] = piece.replace('\u2581', ' ');
                }
                if (pieces[id] != null && pieces[id].length() == 1) {
                    singles.set(pieces[id].charAt(0));
                }
            }
            toFinish = shortestToAccept(singles);
        }

        private int[] shortestToAccept(BitSet chars) {
            // One character that is a token of its own per interval of the DFA's alphabet: all of an
            // interval's characters lead to the same states.
            char[] starts = dfa.getCharIntervals();
            List<Character> representatives = new ArrayList<>();
            for (int i = 0; i < starts.length; i++) {
                int end = i + 1 < starts.length ? starts[i + 1] : Character.MAX_VALUE + 1;
                int ch = chars.nextSetBit(starts[i]);
                if (ch >= 0 && ch < end) {
                    representatives.add((char) ch);
                }
            }
            int n = dfa.getSize();
            List<List<Integer>> into = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                into.add(new ArrayList<>());
            }
            for (int st = 0; st < n; st++) {
                for (char ch : representatives) {
                    int next = dfa.step(st, ch);
                    if (next >= 0) {
                        into.get(next).add(st);
                    }
                }
            }
            int[] d = new int[n];
            Arrays.fill(d, Integer.MAX_VALUE);
            ArrayDeque<Integer> queue = new ArrayDeque<>();
            for (int st = 0; st < n; st++) {
                if (dfa.isAccept(st)) {
                    d[st] = 0;
                    queue.add(st);
                }
            }
            while (!queue.isEmpty()) {
                int st = queue.poll();
                for (int from : into.get(st)) {
                    if (d[from] == Integer.MAX_VALUE) {
                        d[from] = d[st] + 1;
                        queue.add(from);
                    }
                }
            }
            return d;
        }

        Allowed allowed(int state) {
            Allowed a = allowed.get(state);
            if (a == null) {
                a = compute(state);
                if (!allowed.compareAndSet(state, null, a)) {
                    a = allowed.get(state);
                }
            }
            return a;
        }

        private Allowed compute(int s) {
            int[] ids = new int[pieces.length];
            int[] next = new int[pieces.length];
            long[] bits = new long[(pieces.length + 63) >>> 6];
            int count = 0;
            int worst = 0;
            for (int id = 0; id < pieces.length; id++) {
                if (pieces[id] != null) {
                    int to = step(s, pieces[id]);
                    if (to >= 0 && toFinish[to] != Integer.MAX_VALUE) {
                        ids[count] = id;
                        next[count++] = toFinish[to];
                        worst = Math.max(worst, toFinish[to]);
                        bits[id >>> 6] |= 1L << id;
                    }
                }
            }
            return new Allowed(Arrays.copyOf(ids, count), Arrays.copyOf(next, count), worst, bits);
        }

        int step(int state, String text) {
            int s = state;
            for (int i = 0; i < text.length() && s >= 0; i++) {
                s = dfa.step(s, text.charAt(i));
            }
            return s;
        }
    }

    /**
     * The tokens that continue a valid answer from one state, and for each the tokens it then needs
     * at most to finish ({@code worst}: the largest of those); {@code bits}: the same ids as a bit set
     * (bit {@code id % 64} of word {@code id / 64}), what the mask walks.
     */
    record Allowed(int[] ids, int[] toFinish, int worst, long[] bits) {}

    private static final int[] NO_IDS = new int[0];

    /** One generation's position in the constraint. */
    final class Cursor {
        private final Compiled c;
        private int state;
        /** A state's allowed bits less the tokens that could not finish in time (near the budget's end). */
        private final long[] tight;
        /** The end-of-sequence ids among the logits, found at the first step where the answer is complete. */
        private int[] eosIds;

        private float[] eosLogits;

        Cursor(Compiled c) {
            this.c = c;
            this.state = dfa.getInitialState();
            this.tight = new long[(c.pieces.length + 63) >>> 6];
        }

        /** The fewest tokens known to complete an answer from the start. */
        int tokensToFinish() {
            return c.toFinish[dfa.getInitialState()];
        }

        /**
         * Sets the logits of every token that cannot come next to -infinity; an end-of-sequence id
         * ({@code eos}) is allowed only where the answer is complete. With {@code remaining} tokens
         * left (this one included), a token is allowed only if the answer can still be completed in
         * what is left after it, so an answer that fits its budget is never cut off half-written.
         * {@code eos} must be the same at every step of a cursor (a row's end-of-sequence ids): it is
         * read once, over every id, the first time the answer is complete.
         */
        void mask(float[] logits, IntPredicate eos, int remaining) {
            Allowed ok = c.allowed(state);
            boolean accept = dfa.isAccept(state);
            if (ok.ids().length == 0 && !accept) {
                throw new IllegalStateException(description + ": no token of this vocabulary continues the answer");
            }
            long[] bits = ok.bits();
            if (ok.worst() > remaining - 1 && c.toFinish[state] <= remaining) {
                // Near the end of the budget: only the tokens after which the answer still fits.
                System.arraycopy(bits, 0, tight, 0, bits.length);
                for (int i = 0; i < ok.ids().length; i++) {
                    if (ok.toFinish()[i] > remaining - 1) {
                        int id = ok.ids()[i];
                        tight[id >>> 6] &= ~(1L << id);
                    }
                }
                bits = tight;
            }
            int[] ends = accept ? eosIds(logits.length, eos) : NO_IDS;
            for (int k = 0; k < ends.length; k++) {
                eosLogits[k] = logits[ends[k]];
            }
            // A word at a time: inside a JSON string nearly every word is all allowed (skipped), in
            // structure nearly every one is all refused (filled); only mixed words are walked bit by bit.
            int n = logits.length;
            for (int w = 0; w < bits.length; w++) {
                long word = bits[w];
                if (word == -1L) {
                    continue;
                }
                int base = w << 6;
                if (word == 0L) {
                    Arrays.fill(logits, Math.min(base, n), Math.min(base + 64, n), Float.NEGATIVE_INFINITY);
                    continue;
                }
                for (long refused = ~word; refused != 0; refused &= refused - 1) {
                    int id = base + Long.numberOfTrailingZeros(refused);
                    if (id >= n) {
                        break;
                    }
                    logits[id] = Float.NEGATIVE_INFINITY;
                }
            }
            if (n > bits.length << 6) {
                // Ids past the tokenizer's vocabulary (a model's padded embedding) are never text.
                Arrays.fill(logits, bits.length << 6, n, Float.NEGATIVE_INFINITY);
            }
            for (int k = 0; k < ends.length; k++) {
                logits[ends[k]] = eosLogits[k];
            }
        }

        private int[] eosIds(int n, IntPredicate eos) {
            if (eosIds == null) {
                int[] found = new int[n];
                int count = 0;
                for (int id = 0; id < n; id++) {
                    if (eos.test(id)) {
                        found[count++] = id;
                    }
                }
                eosIds = Arrays.copyOf(found, count);
                eosLogits = new float[count];
            }
            return eosIds;
        }

        /** Moves past token {@code id} (one {@link #mask} allowed). */
        void advance(int id) {
            if (id < c.pieces.length && c.pieces[id] != null) {
                int next = c.step(state, c.pieces[id]);
                if (next >= 0) {
                    state = next;
                }
            }
        }

        /** The answer so far is a complete answer. */
        boolean accepting() {
            return dfa.isAccept(state);
        }

        /** The answer is complete and nothing may follow it but its end. */
        boolean complete() {
            return dfa.isAccept(state) && c.allowed(state).ids().length == 0;
        }
    }
}
