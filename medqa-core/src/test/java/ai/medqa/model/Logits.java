package ai.medqa.model;

import ai.djl.ndarray.NDScope;
import com.fasterxml.jackson.databind.JsonNode;

/** Logits and greedy runs of a model, as the fidelity tests of every package compare them. */
public final class Logits {
    private Logits() {}

    /** Float32 logits of every prompt position, one forward call. */
    public static float[][] prefillAll(MistralModel m, int[] prompt) {
        try (KvCache cache = m.newCache(prompt.length);
                NDScope scope = new NDScope()) {
            float[] flat = m.forward(new int[][] {prompt}, cache, true).toFloatArray();
            int v = m.config().vocabSize();
            float[][] rows = new float[prompt.length][v];
            for (int t = 0; t < prompt.length; t++) {
                System.arraycopy(flat, t * v, rows[t], 0, v);
            }
            return rows;
        }
    }

    /** The same logits, feeding the prompt one token at a time through the cache. */
    public static float[][] prefillOneByOne(MistralModel m, int[] prompt) {
        float[][] rows = new float[prompt.length][];
        try (KvCache cache = m.newCache(prompt.length)) {
            for (int t = 0; t < prompt.length; t++) {
                try (NDScope scope = new NDScope()) {
                    rows[t] = m.forward(new int[][] {{prompt[t]}}, cache, false).toFloatArray();
                }
            }
        }
        return rows;
    }

    /** Greedy continuation with the KV cache (the goldens re-forward each step; same argmax). */
    public static int[] greedy(MistralModel m, int[] prompt, int steps) {
        int[] out = new int[steps];
        try (KvCache cache = m.newCache(prompt.length + steps)) {
            int[] feed = prompt;
            for (int s = 0; s < steps; s++) {
                try (NDScope scope = new NDScope()) {
                    out[s] = argmax(m.forward(new int[][] {feed}, cache, false).toFloatArray());
                }
                feed = new int[] {out[s]};
            }
        }
        return out;
    }

    /** The highest logit, the lowest id on ties (llama2.c's and numpy's rule). */
    public static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    public static double maxAbsDiff(float[][] a, float[][] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException(a.length + " rows vs " + b.length);
        }
        double max = 0;
        for (int t = 0; t < a.length; t++) {
            max = Math.max(max, maxAbsDiff(a[t], b[t]));
        }
        return max;
    }

    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException(a.length + " vs " + b.length);
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    /** A JSON array of ids. */
    public static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asInt();
        }
        return r;
    }

    /** Rows of float32 logits written as shortest round-trip decimals: parsing as float is exact. */
    public static float[][] floats2(JsonNode a) {
        float[][] r = new float[a.size()][];
        for (int i = 0; i < r.length; i++) {
            JsonNode row = a.get(i);
            r[i] = new float[row.size()];
            for (int j = 0; j < r[i].length; j++) {
                r[i][j] = Float.parseFloat(row.get(j).asText());
            }
        }
        return r;
    }
}
