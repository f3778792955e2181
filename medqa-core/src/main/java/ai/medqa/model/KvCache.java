package ai.medqa.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import java.util.Arrays;

/**
 * Keys and values of every layer for a batch of sequences, preallocated to {@code capacity}
 * positions so that a decode step writes in place instead of growing arrays.
 *
 * <p>Rows are left-padded: row {@code b} starts at slot {@code padLeft[b]}; slots before it are
 * masked out of attention and its positions count from 0 at that slot.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    final NDArray[] keys; // per layer [B, kv_heads, capacity, head_dim]
    final NDArray[] values;
    private final int[] padLeft;
    private final int capacity;
    private int length;
    /** The caches as two TorchScript lists (keys, values) for the fused step; made on first use. */
    private IValue[] fusedLists;

    KvCache(MistralConfig config, NDManager parent, int[] padLeft, int capacity, DataType dtype) {
        if (capacity < 1) {
            throw new IllegalArgumentException("KV cache capacity must be >= 1, got " + capacity);
        }
        this.manager = parent.newSubManager();
        this.padLeft = padLeft.clone();
        this.capacity = capacity;
        int layers = config.numHiddenLayers();
        keys = new NDArray[layers];
        values = new NDArray[layers];
        Shape shape = new Shape(padLeft.length, config.numKeyValueHeads(), capacity, config.headDim());
        for (int l = 0; l < layers; l++) {
            keys[l] = manager.zeros(shape, dtype);
            values[l] = manager.zeros(shape, dtype);
        }
    }

    /** Number of slots filled so far (including left padding). */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    public int batchSize() {
        return padLeft.length;
    }

    public int[] padLeft() {
        return padLeft.clone();
    }

    boolean padded() {
        return Arrays.stream(padLeft).anyMatch(p -> p > 0);
    }

    int padLeft(int row) {
        return padLeft[row];
    }

    void put(int layer, int start, NDArray k, NDArray v) {
        int end = start + (int) k.getShape().get(2);
        NDIndex slots = new NDIndex(":, :, {}:{}", start, end);
        keys[layer].set(slots, k);
        values[layer].set(slots, v);
    }

    NDArray keys(int layer, int from, int to) {
        return keys[layer].get(new NDIndex(":, :, {}:{}", from, to));
    }

    NDArray values(int layer, int from, int to) {
        return values[layer].get(new NDIndex(":, :, {}:{}", from, to));
    }

    void advance(int steps) {
        length += steps;
    }

    /**
     * Forgets the positions from {@code length} on, keeping those before: the next step writes at
     * slot {@code length}. Scoring several continuations of one shared prefix uses it.
     */
    public void rewind(int length) {
        if (length < 0 || length > this.length) {
            throw new IllegalArgumentException(
                    "cannot rewind to " + length + ": the cache holds " + this.length + " positions");
        }
        this.length = length;
    }

    /** Forgets the cached positions (the arrays are kept for reuse). */
    public void reset() {
        length = 0;
    }

    /**
     * A new cache holding row {@code rows[i]} of {@code sources[i]} as its row {@code i}, right-aligned
     * so that every row's newest position sits at the new cache's last filled slot (shorter rows get
     * more left padding), with {@code room} free slots after it. A row's positions, and so its
     * attention and rope, are the same as in its source: a batch whose rows join and leave between
     * steps regroups through this.
     */
    static KvCache gather(
            MistralConfig config, NDManager parent, DataType dtype, KvCache[] sources, int[] rows, int room) {
        int n = sources.length;
        int[] filled = new int[n];
        int longest = 0;
        for (int i = 0; i < n; i++) {
            filled[i] = sources[i].length - sources[i].padLeft[rows[i]];
            longest = Math.max(longest, filled[i]);
        }
        int[] pad = new int[n];
        for (int i = 0; i < n; i++) {
            pad[i] = longest - filled[i];
        }
        KvCache out = new KvCache(config, parent, pad, longest + room, dtype);
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            for (int l = 0; l < out.keys.length; l++) {
                for (int i = 0; i < n; i++) {
                    if (filled[i] == 0) {
                        continue;
                    }
                    KvCache src = sources[i];
                    NDIndex from = new NDIndex("{}, :, {}:{}", rows[i], src.padLeft[rows[i]], src.length);
                    NDIndex to = new NDIndex("{}, :, {}:{}", i, pad[i], longest);
                    out.keys[l].set(to, src.keys[l].get(from));
                    out.values[l].set(to, src.values[l].get(from));
                }
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        out.length = longest;
        return out;
    }

    synchronized IValue[] fusedLists() {
        if (fusedLists == null) {
            PtNDArray[] k = new PtNDArray[keys.length];
            PtNDArray[] v = new PtNDArray[values.length];
            for (int l = 0; l < k.length; l++) {
                k[l] = (PtNDArray) keys[l];
                v[l] = (PtNDArray) values[l];
            }
            fusedLists = new IValue[] {IValue.listFrom(k), IValue.listFrom(v)};
        }
        return fusedLists;
    }

    @Override
    public void close() {
        if (fusedLists != null) {
            fusedLists[0].close();
            fusedLists[1].close();
        }
        manager.close();
    }
}
