package ai.medqa.lora;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.medqa.model.KvCache;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralModel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;

/** Model C, the PEFT goldens of fixtures/lora/, and forward helpers for the LoRA tests. */
final class LoraFixtures {
    private static JsonNode golden;

    private LoraFixtures() {}

    static Path fixture(String relative) {
        try {
            return Path.of(LoraFixtures.class.getResource("/fixtures/" + relative).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test resource fixtures/" + relative, e);
        }
    }

    static JsonNode json(String relative) {
        try {
            return new ObjectMapper().readTree(fixture(relative).toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** fixtures/lora/golden.json (made by transformers + PEFT). */
    static synchronized JsonNode golden() {
        if (golden == null) {
            golden = json("lora/golden.json");
        }
        return golden;
    }

    static int[] prompt() {
        return ints(golden().get("prompt"));
    }

    /** Model C (mistral-swa: 4 layers, hidden 64, sliding window 6) in {@code storage} and compute {@code dtype}. */
    static MistralModel modelC(String storage, DataType dtype) {
        return MistralModel.load(fixture("mistral-swa/" + storage), Device.cpu(), dtype, LinearFactory.DENSE);
    }

    static MistralModel modelC() {
        return modelC("f32", DataType.FLOAT32);
    }

    /** Float32 logits of every prompt position, one forward call. */
    static float[][] prefillAll(MistralModel m, int[] prompt) {
        try (KvCache cache = m.newCache(prompt.length); NDScope scope = new NDScope()) {
            float[] flat = m.forward(new int[][] {prompt}, cache, true).toFloatArray();
            int v = m.config().vocabSize();
            float[][] rows = new float[prompt.length][v];
            for (int t = 0; t < prompt.length; t++) {
                System.arraycopy(flat, t * v, rows[t], 0, v);
            }
            return rows;
        }
    }

    /** Greedy continuation with the KV cache (the golden re-forwards each step; same argmax). */
    static int[] greedy(MistralModel m, int[] prompt, int steps) {
        int[] out = new int[steps];
        try (KvCache cache = m.newCache(prompt.length + steps)) {
            int[] feed = prompt;
            for (int s = 0; s < steps; s++) {
                try (NDScope scope = new NDScope()) {
                    NDArray logits = m.forward(new int[][] {feed}, cache, false);
                    out[s] = argmax(logits.toFloatArray());
                }
                feed = new int[] {out[s]};
            }
        }
        return out;
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    static double maxAbsDiff(float[][] a, float[][] b) {
        double max = 0;
        for (int t = 0; t < a.length; t++) {
            max = Math.max(max, maxAbsDiff(a[t], b[t]));
        }
        return max;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException(a.length + " vs " + b.length);
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asInt();
        }
        return r;
    }

    static float[][] floats2(JsonNode a) {
        float[][] r = new float[a.size()][];
        for (int i = 0; i < r.length; i++) {
            JsonNode row = a.get(i);
            r[i] = new float[row.size()];
            for (int j = 0; j < r[i].length; j++) {
                r[i][j] = Float.parseFloat(row.get(j).asText()); // shortest float32 repr: exact
            }
        }
        return r;
    }
}
