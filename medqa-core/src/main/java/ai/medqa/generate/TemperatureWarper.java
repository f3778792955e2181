package ai.medqa.generate;

/**
 * transformers' {@code TemperatureLogitsWarper}: logits divided by the temperature, in float32. The
 * temperature is checked once, by {@link GenerationConfig} (finite, >= 0), and 0 never gets here: it
 * is greedy decoding, which runs no warper.
 */
final class TemperatureWarper implements LogitsProcessor {
    private final float temperature;

    TemperatureWarper(double temperature) {
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
