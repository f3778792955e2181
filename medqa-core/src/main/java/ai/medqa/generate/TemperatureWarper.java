package ai.medqa.generate;

/** transformers' {@code TemperatureLogitsWarper}: logits divided by the temperature, in float32. */
final class TemperatureWarper implements LogitsProcessor {
    private final float temperature;

    TemperatureWarper(double temperature) {
        if (!(temperature > 0)) {
            throw new IllegalArgumentException(
                    "temperature must be > 0 here (0 is handled as greedy), got " + temperature);
        }
        this.temperature = (float) temperature;
    }

    @Override
    public void process(int[] prevIds, int prevLen, float[] logits) {
        divide(logits, temperature);
    }

    static void divide(float[] logits, float temperature) {
        for (int i = 0; i < logits.length; i++) {
            logits[i] /= temperature;
        }
    }
}
