package ai.medqa.model;

import java.util.Arrays;

/**
 * Which LoRA adapter each row of a batch uses, by the id its model gave the adapter when it was
 * attached ({@code LoraAdapters.id}); {@link #NONE_ID} for the base model alone. Passed with every
 * forward call, so that rows of different adapters (and rows with none) share one pass: the base
 * products run once for all rows and each row adds its own adapter's low-rank delta.
 *
 * <p>{@link #ACTIVE} means every row uses the model's active adapter (the training route and the
 * single-request API); any other value is explicit data and no model state is read or changed.
 */
public final class AdapterRows {
    /** The id of "no adapter". */
    public static final int NONE_ID = -1;
    /** Every row uses the active adapter (if any). */
    public static final AdapterRows ACTIVE = new AdapterRows(null);

    private final int[] ids;

    private AdapterRows(int[] ids) {
        this.ids = ids;
    }

    /** One adapter id per row ({@link #NONE_ID} for none); the array is copied. */
    public static AdapterRows of(int... ids) {
        for (int id : ids) {
            if (id < NONE_ID) {
                throw new IllegalArgumentException("adapter ids are >= 0, or -1 for none; got " + id);
            }
        }
        return new AdapterRows(ids.clone());
    }

    /** Whether this is {@link #ACTIVE}. */
    public boolean active() {
        return ids == null;
    }

    /** Rows given (not for {@link #ACTIVE}). */
    public int size() {
        return ids.length;
    }

    /** The adapter id of row {@code row} (not for {@link #ACTIVE}). */
    public int id(int row) {
        return ids[row];
    }

    @Override
    public String toString() {
        return ids == null ? "AdapterRows[active]" : "AdapterRows" + Arrays.toString(ids);
    }
}
