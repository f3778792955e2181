package ai.medqa.metrics.bertscore;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The imported all-MiniLM-L6-v2 against ONNX Runtime running the very same ONNX file. */
class MiniLmOnnxTest {
    private static BertEncoder encoder;

    @BeforeAll
    static void load() {
        encoder = BertEncoder.miniLm();
    }

    @AfterAll
    static void close() {
        encoder.close();
    }

    @Test
    void lastHiddenStatesEqualOnnxRuntimeOn60PubMedQaTexts() throws Exception {
        List<String> texts = TestData.sentences();
        assertThat(texts).hasSizeGreaterThanOrEqualTo(50);
        List<int[]> ids = new ArrayList<>();
        for (String t : texts) {
            ids.add(encoder.tokenize(t));
        }
        // Some paragraphs exceed the 128 word pieces at which the tokenizer.json would cut.
        assertThat(ids.stream().mapToInt(a -> a.length).max().getAsInt()).isGreaterThan(200);
        // Ours in padded batches of 16 (masks matter), ONNX Runtime one text at a time (no padding).
        List<float[][]> ours = encoder.hiddenStates(ids, encoder.numLayers(), 16);

        byte[] model;
        try (InputStream in = BertEncoder.class.getResourceAsStream(BertEncoder.MINILM_ONNX)) {
            model = in.readAllBytes();
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        double worst = 0;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(2);
            try (OrtSession session = env.createSession(model, options)) {
                for (int s = 0; s < ids.size(); s++) {
                    int[] seq = ids.get(s);
                    long[][] inputIds = new long[1][seq.length];
                    long[][] mask = new long[1][seq.length];
                    long[][] types = new long[1][seq.length];
                    for (int i = 0; i < seq.length; i++) {
                        inputIds[0][i] = seq[i];
                        mask[0][i] = 1;
                    }
                    try (OnnxTensor a = OnnxTensor.createTensor(env, inputIds);
                            OnnxTensor m = OnnxTensor.createTensor(env, mask);
                            OnnxTensor t = OnnxTensor.createTensor(env, types);
                            OrtSession.Result r =
                                    session.run(Map.of("input_ids", a, "attention_mask", m, "token_type_ids", t))) {
                        float[][] expected = ((float[][][]) r.get(0).getValue())[0];
                        float[][] actual = ours.get(s);
                        assertThat(actual.length).isEqualTo(expected.length);
                        for (int i = 0; i < expected.length; i++) {
                            for (int j = 0; j < expected[i].length; j++) {
                                worst = Math.max(worst, Math.abs(expected[i][j] - actual[i][j]));
                            }
                        }
                    }
                }
            }
        }
        System.err.printf("MiniLM vs ONNX Runtime: %d texts, max |diff| = %.3g%n", ids.size(), worst);
        assertThat(worst).isLessThan(1e-4);
    }
}
