package ai.medqa.generate;

/**
 * The ascending sort that {@code torch.sort(x, descending=False)} does on the CPU, reproduced down to the
 * order of equal values: a port of libstdc++'s {@code std::sort} (introsort: median-of-three quicksort,
 * heapsort below the depth limit, final insertion sort), which torch's CPU sort kernel calls with a
 * comparator on the values only when {@code stable=False}.
 *
 * <p>Why not a stable sort: transformers' top-p sorts the logits this way, and which of several equal
 * logits straddling the top-p boundary survive depends on that order. The golden rows with ties
 * ({@code logits_processors.jsonl}, kinds "ties" and "all_equal_with_few_high") are matched only by this
 * order. Checked against torch 2.13 on vocabularies of 1,000.
 */
final class TorchSort {
    private static final int THRESHOLD = 16; // libstdc++ _S_threshold

    private final float[] v;
    private final int[] ix;

    private TorchSort(float[] v, int[] ix) {
        this.v = v;
        this.ix = ix;
    }

    /** Sorts {@code values[0..n)} ascending, permuting {@code ids} alongside. */
    static void sortAscending(float[] values, int[] ids, int n) {
        if (n < 2) {
            return;
        }
        TorchSort s = new TorchSort(values, ids);
        s.introsortLoop(0, n, 2 * (31 - Integer.numberOfLeadingZeros(n)));
        s.finalInsertionSort(0, n);
    }

    /** torch's KeyValueCompAsc: NaN sorts last. */
    private static boolean less(float a, float b) {
        return (!Float.isNaN(a) && Float.isNaN(b)) || a < b;
    }

    private boolean lessAt(int i, int j) {
        return less(v[i], v[j]);
    }

    private void swap(int i, int j) {
        float t = v[i];
        v[i] = v[j];
        v[j] = t;
        int u = ix[i];
        ix[i] = ix[j];
        ix[j] = u;
    }

    private void introsortLoop(int first, int last, int depthLimit) {
        while (last - first > THRESHOLD) {
            if (depthLimit == 0) {
                heapSort(first, last);
                return;
            }
            depthLimit--;
            int cut = unguardedPartitionPivot(first, last);
            introsortLoop(cut, last, depthLimit);
            last = cut;
        }
    }

    private int unguardedPartitionPivot(int first, int last) {
        int mid = first + (last - first) / 2;
        moveMedianToFirst(first, first + 1, mid, last - 1);
        return unguardedPartition(first + 1, last, first);
    }

    private void moveMedianToFirst(int result, int a, int b, int c) {
        if (lessAt(a, b)) {
            if (lessAt(b, c)) {
                swap(result, b);
            } else if (lessAt(a, c)) {
                swap(result, c);
            } else {
                swap(result, a);
            }
        } else if (lessAt(a, c)) {
            swap(result, a);
        } else if (lessAt(b, c)) {
            swap(result, c);
        } else {
            swap(result, b);
        }
    }

    private int unguardedPartition(int first, int last, int pivot) {
        while (true) {
            while (lessAt(first, pivot)) {
                first++;
            }
            last--;
            while (lessAt(pivot, last)) {
                last--;
            }
            if (!(first < last)) {
                return first;
            }
            swap(first, last);
            first++;
        }
    }

    // ---- heapsort (std::__partial_sort(first, last, last)): make_heap then sort_heap

    private void heapSort(int first, int last) {
        int len = last - first;
        if (len >= 2) {
            for (int parent = (len - 2) / 2; ; parent--) {
                adjustHeap(first, parent, len, v[first + parent], ix[first + parent]);
                if (parent == 0) {
                    break;
                }
            }
        }
        while (last - first > 1) {
            last--;
            // __pop_heap(first, last, last)
            float val = v[last];
            int id = ix[last];
            v[last] = v[first];
            ix[last] = ix[first];
            adjustHeap(first, 0, last - first, val, id);
        }
    }

    private void adjustHeap(int first, int hole, int len, float val, int id) {
        int top = hole;
        int second = hole;
        while (second < (len - 1) / 2) {
            second = 2 * (second + 1);
            if (lessAt(first + second, first + second - 1)) {
                second--;
            }
            v[first + hole] = v[first + second];
            ix[first + hole] = ix[first + second];
            hole = second;
        }
        if ((len & 1) == 0 && second == (len - 2) / 2) {
            second = 2 * (second + 1);
            v[first + hole] = v[first + second - 1];
            ix[first + hole] = ix[first + second - 1];
            hole = second - 1;
        }
        // __push_heap
        int parent = (hole - 1) / 2;
        while (hole > top && less(v[first + parent], val)) {
            v[first + hole] = v[first + parent];
            ix[first + hole] = ix[first + parent];
            hole = parent;
            parent = (hole - 1) / 2;
        }
        v[first + hole] = val;
        ix[first + hole] = id;
    }

    // ---- final insertion sort

    private void finalInsertionSort(int first, int last) {
        if (last - first > THRESHOLD) {
            insertionSort(first, first + THRESHOLD);
            for (int i = first + THRESHOLD; i < last; i++) {
                unguardedLinearInsert(i);
            }
        } else {
            insertionSort(first, last);
        }
    }

    private void insertionSort(int first, int last) {
        for (int i = first + 1; i < last; i++) {
            if (lessAt(i, first)) {
                float val = v[i];
                int id = ix[i];
                System.arraycopy(v, first, v, first + 1, i - first);
                System.arraycopy(ix, first, ix, first + 1, i - first);
                v[first] = val;
                ix[first] = id;
            } else {
                unguardedLinearInsert(i);
            }
        }
    }

    private void unguardedLinearInsert(int last) {
        float val = v[last];
        int id = ix[last];
        int next = last - 1;
        while (less(val, v[next])) {
            v[last] = v[next];
            ix[last] = ix[next];
            last = next;
            next--;
        }
        v[last] = val;
        ix[last] = id;
    }
}
