package ai.medqa.metrics.bertscore;

import java.nio.FloatBuffer;
import java.util.Arrays;

/** A float32 tensor read from a file, before it becomes a DJL array: row-major, native order. */
record FloatTensor(String name, long[] shape, FloatBuffer data) {

    long size() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** The 2-D transpose, for ONNX MatMul weights stored {@code [in, out]} where torch keeps {@code [out, in]}. */
    FloatTensor transpose2d(String newName) {
        if (shape.length != 2) {
            throw new IllegalArgumentException(name + ": transpose needs 2 dimensions, got " + Arrays.toString(shape));
        }
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        float[] out = new float[rows * cols];
        FloatBuffer in = data.duplicate();
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[c * rows + r] = in.get(r * cols + c);
            }
        }
        return new FloatTensor(newName, new long[] {cols, rows}, FloatBuffer.wrap(out));
    }
}
