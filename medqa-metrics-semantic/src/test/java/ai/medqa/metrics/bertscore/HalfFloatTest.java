package ai.medqa.metrics.bertscore;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** F16 safetensors weights (the tiny fixtures cover F32 and BF16). */
class HalfFloatTest {
    @Test
    void binary16ValuesWidenExactly() {
        assertThat(SafetensorsWeights.halfToFloat((short) 0x3C00)).isEqualTo(1.0f);
        assertThat(SafetensorsWeights.halfToFloat((short) 0xC000)).isEqualTo(-2.0f);
        assertThat(SafetensorsWeights.halfToFloat((short) 0x7BFF)).isEqualTo(65504.0f);
        assertThat(SafetensorsWeights.halfToFloat((short) 0x3555)).isEqualTo(0.333251953125f);
        assertThat(SafetensorsWeights.halfToFloat((short) 0x0400)).isEqualTo(0x1p-14f); // smallest normal
        assertThat(SafetensorsWeights.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f); // smallest subnormal
        assertThat(SafetensorsWeights.halfToFloat((short) 0x8000)).isEqualTo(-0.0f);
        assertThat(SafetensorsWeights.halfToFloat((short) 0x7C00)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(SafetensorsWeights.halfToFloat((short) 0x7E00)).isNaN();
    }
}
