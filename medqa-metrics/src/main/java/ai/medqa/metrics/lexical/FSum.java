package ai.medqa.metrics.lexical;

/** Python's {@code math.fsum}: exactly rounded sum (Shewchuk's partials), which nltk's BLEU uses. */
final class FSum {
    private FSum() {}

    static double fsum(double[] values, int count) {
        double[] partials = new double[count + 1];
        int np = 0;
        for (int v = 0; v < count; v++) {
            double x = values[v];
            int i = 0;
            for (int j = 0; j < np; j++) {
                double y = partials[j];
                if (Math.abs(x) < Math.abs(y)) {
                    double t = x;
                    x = y;
                    y = t;
                }
                double hi = x + y;
                double lo = y - (hi - x);
                if (lo != 0.0) {
                    partials[i++] = lo;
                }
                x = hi;
            }
            np = i;
            partials[np++] = x;
        }
        // Sum the partials from the top, correcting the final rounding as CPython does.
        if (np == 0) {
            return 0.0;
        }
        int n = np - 1;
        double hi = partials[n];
        double lo = 0.0;
        while (n > 0) {
            double x = hi;
            double y = partials[--n];
            hi = x + y;
            double yr = hi - x;
            lo = y - yr;
            if (lo != 0.0) {
                break;
            }
        }
        if (n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0))) {
            double y = lo * 2.0;
            double x = hi + y;
            double yr = x - hi;
            if (y == yr) {
                hi = x;
            }
        }
        return hi;
    }
}
