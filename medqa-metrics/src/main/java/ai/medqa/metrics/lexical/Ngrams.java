package ai.medqa.metrics.lexical;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * N-gram counting over integer token ids. Tokens are interned per comparison so that an n-gram key
 * is a slice of an int array rather than a list of strings: the BLEU and ROUGE benchmarks spend
 * most of their time here.
 */
final class Ngrams {
    private Ngrams() {}

    /** Interns strings to dense ids; one instance per comparison. */
    static final class Vocab {
        private final Map<String, Integer> ids = new HashMap<>();

        int[] encode(List<String> tokens) {
            int[] out = new int[tokens.size()];
            for (int i = 0; i < out.length; i++) {
                Integer id = ids.get(tokens.get(i));
                if (id == null) {
                    id = ids.size();
                    ids.put(tokens.get(i), id);
                }
                out[i] = id;
            }
            return out;
        }
    }

    /** An n-gram: a view of {@code n} ids starting at {@code from}. */
    static final class Key {
        private final int[] ids;
        private final int from;
        private final int n;
        private final int hash;

        Key(int[] ids, int from, int n) {
            this.ids = ids;
            this.from = from;
            this.n = n;
            int h = n;
            for (int i = from; i < from + n; i++) {
                h = 31 * h + ids[i];
            }
            this.hash = h;
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Key)) {
                return false;
            }
            Key k = (Key) o;
            return k.hash == hash && k.n == n && Arrays.equals(ids, from, from + n, k.ids, k.from, k.from + n);
        }
    }

    /** Counts of every n-gram of order {@code n}; empty when the sequence is shorter than n. */
    static Map<Key, Integer> count(int[] ids, int n) {
        Map<Key, Integer> counts = new HashMap<>();
        for (int i = 0; i + n <= ids.length; i++) {
            counts.merge(new Key(ids, i, n), 1, Integer::sum);
        }
        return counts;
    }

    static int total(Map<Key, Integer> counts) {
        int t = 0;
        for (int c : counts.values()) {
            t += c;
        }
        return t;
    }
}
