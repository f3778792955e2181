package ai.medqa.eval;

/**
 * McNemar's exact test for two classifiers on the same questions: under the null hypothesis the
 * {@code b + c} discordant questions split as a fair coin; the two-sided p-value is
 * {@code min(1, 2 * P(X <= min(b, c)))} for {@code X ~ Binomial(b + c, 1/2)}, scipy's
 * {@code binomtest(min(b, c), b + c, 0.5).pvalue}.
 */
public final class McNemar {
    private McNemar() {}

    /**
     * @param b questions the first configuration got right and the second wrong
     * @param c the reverse
     */
    public static double exactPValue(int b, int c) {
        int n = b + c;
        if (n == 0) {
            return 1.0;
        }
        int k = Math.min(b, c);
        // Sum of C(n, i) / 2^n for i <= k, in log space so that n in the thousands stays finite.
        double tail = 0;
        double logHalfN = -n * Math.log(2);
        double logChoose = 0; // log C(n, 0)
        for (int i = 0; i <= k; i++) {
            if (i > 0) {
                logChoose += Math.log(n - i + 1) - Math.log(i);
            }
            tail += Math.exp(logChoose + logHalfN);
        }
        return Math.min(1.0, 2 * tail);
    }
}
