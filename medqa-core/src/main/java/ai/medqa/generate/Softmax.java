package ai.medqa.generate;

/**
 * Softmax in float32 as torch computes it on the CPU: subtract the row maximum in float, exponentiate,
 * normalise by multiplying with {@code 1 / sum}. The sum is accumulated in double in index order: torch
 * sums in float across vector lanes, so probabilities agree to about 1e-7, and the fast and the
 * full-sort sampler paths get bit-identical values because both sum in index order.
 */
final class Softmax {
    private Softmax() {}

    /** exp(x - max), the difference taken in float as torch does; 0 for -inf. */
    static float exp(float x, float max) {
        return (float) Math.exp(x - max);
    }

    static float max(float[] x, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            if (x[i] > m) {
                m = x[i];
            }
        }
        return m;
    }

    /** Probabilities of {@code x[0..n)} into {@code out[0..n)}. */
    static void probs(float[] x, int n, float[] out) {
        float max = max(x, n);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = exp(x[i], max);
            out[i] = e;
            sum += e;
        }
        float inv = 1f / (float) sum;
        for (int i = 0; i < n; i++) {
            out[i] *= inv;
        }
    }

    static float[] probs(float[] x) {
        float[] p = new float[x.length];
        probs(x, x.length, p);
        return p;
    }
}
