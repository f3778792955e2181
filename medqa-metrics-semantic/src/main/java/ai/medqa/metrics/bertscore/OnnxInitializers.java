package ai.medqa.metrics.bertscore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the weights (graph initializers) of a BERT exported to ONNX and names them as the Hugging
 * Face checkpoint does, so the encoder can run them on DJL.
 *
 * <p>ONNX is protobuf; rather than pull in protobuf and generated classes for four messages, this
 * walks the few fields it needs by number (onnx.proto: ModelProto.graph = 7; GraphProto.node = 1,
 * initializer = 5; NodeProto.input = 1, output = 2, op_type = 4; TensorProto.dims = 1, data_type = 2,
 * float_data = 4, name = 8, raw_data = 9, data_location = 14).
 *
 * <p>The exporter keeps Hugging Face names for biases, LayerNorms and embeddings but gives each
 * linear weight an anonymous name ({@code onnx::MatMul_787}) and stores it {@code [in, out]}. Every
 * such weight feeds a {@code MatMul} whose output goes into an {@code Add} with a named bias, so
 * the weight is {@code <bias name minus .bias>.weight}, transposed to torch's {@code [out, in]}.
 */
final class OnnxInitializers {
    private static final int FLOAT = 1;

    private OnnxInitializers() {}

    private record Node(String opType, List<String> inputs, List<String> outputs) {}

    /** Hugging Face name to tensor, float32 only; other initializers (position_ids) are skipped. */
    static Map<String, FloatTensor> read(byte[] model, String source) {
        ByteBuffer graph = null;
        Proto m = new Proto(ByteBuffer.wrap(model));
        while (m.hasMore()) {
            int tag = m.tag();
            if (tag >>> 3 == 7 && (tag & 7) == 2) {
                graph = m.bytes();
            } else {
                m.skip(tag);
            }
        }
        if (graph == null) {
            throw new IllegalArgumentException(source + ": no graph in this ONNX model");
        }
        Map<String, FloatTensor> initializers = new LinkedHashMap<>();
        List<Node> nodes = new ArrayList<>();
        Proto g = new Proto(graph);
        while (g.hasMore()) {
            int tag = g.tag();
            int field = tag >>> 3;
            if (field == 1 && (tag & 7) == 2) {
                nodes.add(node(g.bytes()));
            } else if (field == 5 && (tag & 7) == 2) {
                FloatTensor t = tensor(g.bytes(), source);
                if (t != null) {
                    initializers.put(t.name(), t);
                }
            } else {
                g.skip(tag);
            }
        }
        return rename(initializers, nodes, source);
    }

    private static Map<String, FloatTensor> rename(Map<String, FloatTensor> init, List<Node> nodes, String source) {
        Map<String, List<Node>> consumers = new HashMap<>();
        for (Node n : nodes) {
            for (String in : n.inputs()) {
                consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
            }
        }
        Map<String, FloatTensor> out = new LinkedHashMap<>();
        for (Node n : nodes) {
            if (!n.opType().equals("MatMul")
                    || n.inputs().size() != 2
                    || !init.containsKey(n.inputs().get(1))) {
                continue;
            }
            FloatTensor w = init.remove(n.inputs().get(1));
            String bias = null;
            for (Node c : consumers.getOrDefault(n.outputs().get(0), List.of())) {
                if (c.opType().equals("Add")) {
                    for (String in : c.inputs()) {
                        if (in.endsWith(".bias") && init.containsKey(in)) {
                            bias = in;
                        }
                    }
                }
            }
            if (bias == null) {
                throw new IllegalArgumentException(source + ": MatMul weight " + w.name()
                        + " is not followed by an Add with a named bias; cannot tell which linear layer it is");
            }
            String name = bias.substring(0, bias.length() - ".bias".length()) + ".weight";
            out.put(name, w.transpose2d(name));
        }
        out.putAll(init);
        return out;
    }

    private static Node node(ByteBuffer bytes) {
        Proto p = new Proto(bytes);
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        String op = "";
        while (p.hasMore()) {
            int tag = p.tag();
            switch (tag >>> 3) {
                case 1 -> inputs.add(p.string());
                case 2 -> outputs.add(p.string());
                case 4 -> op = p.string();
                default -> p.skip(tag);
            }
        }
        return new Node(op, inputs, outputs);
    }

    /** The tensor as float32, or null when it holds another type. */
    private static FloatTensor tensor(ByteBuffer bytes, String source) {
        Proto p = new Proto(bytes);
        List<Long> dims = new ArrayList<>();
        int dataType = 0;
        String name = "";
        ByteBuffer raw = null;
        List<Float> floats = new ArrayList<>();
        while (p.hasMore()) {
            int tag = p.tag();
            int field = tag >>> 3;
            int wire = tag & 7;
            if (field == 1 && wire == 0) {
                dims.add(p.varint());
            } else if (field == 1 && wire == 2) { // packed dims
                Proto packed = new Proto(p.bytes());
                while (packed.hasMore()) {
                    dims.add(packed.varint());
                }
            } else if (field == 2) {
                dataType = (int) p.varint();
            } else if (field == 4 && wire == 2) {
                FloatBuffer fb = p.bytes().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
                while (fb.hasRemaining()) {
                    floats.add(fb.get());
                }
            } else if (field == 4 && wire == 5) {
                floats.add(Float.intBitsToFloat(p.fixed32()));
            } else if (field == 8) {
                name = p.string();
            } else if (field == 9) {
                raw = p.bytes();
            } else if (field == 14 && p.varint() != 0) {
                throw new IllegalArgumentException(
                        source + ": initializer " + name + " keeps its data in an external file");
            } else if (field != 14) {
                p.skip(tag);
            }
        }
        if (dataType != FLOAT) {
            return null;
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        FloatBuffer data;
        if (raw != null) {
            // Copy out of the model bytes: the float view must be native-order and outlive the file buffer.
            FloatBuffer le = raw.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            float[] a = new float[le.remaining()];
            le.get(a);
            data = FloatBuffer.wrap(a);
        } else {
            float[] a = new float[floats.size()];
            for (int i = 0; i < a.length; i++) {
                a[i] = floats.get(i);
            }
            data = FloatBuffer.wrap(a);
        }
        FloatTensor t = new FloatTensor(name, shape, data);
        if (t.size() != data.remaining()) {
            throw new IllegalArgumentException(source + ": initializer " + name + " has " + data.remaining()
                    + " values for shape " + Arrays.toString(shape));
        }
        return t;
    }

    /** Just enough of the protobuf wire format: varints, fixed32, length-delimited, skipping. */
    private static final class Proto {
        private final ByteBuffer buf;

        Proto(ByteBuffer buf) {
            this.buf = buf.slice().order(ByteOrder.LITTLE_ENDIAN);
        }

        boolean hasMore() {
            return buf.hasRemaining();
        }

        int tag() {
            return (int) varint();
        }

        long varint() {
            long result = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                byte b = buf.get();
                result |= (long) (b & 0x7f) << shift;
                if (b >= 0) {
                    return result;
                }
            }
            throw new IllegalArgumentException("malformed protobuf varint");
        }

        int fixed32() {
            return buf.getInt();
        }

        ByteBuffer bytes() {
            int len = Math.toIntExact(varint());
            ByteBuffer slice = buf.slice().limit(len);
            buf.position(buf.position() + len);
            return slice;
        }

        String string() {
            ByteBuffer b = bytes();
            byte[] a = new byte[b.remaining()];
            b.get(a);
            return new String(a, StandardCharsets.UTF_8);
        }

        void skip(int tag) {
            switch (tag & 7) {
                case 0 -> varint();
                case 1 -> buf.position(buf.position() + 8);
                case 2 -> bytes();
                case 5 -> buf.position(buf.position() + 4);
                default -> throw new IllegalArgumentException("unsupported protobuf wire type " + (tag & 7));
            }
        }
    }
}
