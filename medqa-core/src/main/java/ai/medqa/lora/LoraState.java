package ai.medqa.lora;

import ai.medqa.model.AdapterRows;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which adapter a model's LoRA layers apply when a call does not say ({@link AdapterRows#ACTIVE}),
 * which one is merged into the base weights, whether dropout is on, and the id each attached
 * adapter has for the calls that do say: one object shared by every {@link LoraLinear} of a model,
 * so the layers can never disagree and a switch is one write.
 */
final class LoraState {
    volatile String active;
    volatile String merged;
    volatile boolean training;
    /** Adapter name to the id rows name it by; ids are never reused while the model lives. */
    final Map<String, Integer> ids = new ConcurrentHashMap<>();

    private int nextId;

    synchronized int assign(String name) {
        return ids.computeIfAbsent(name, n -> nextId++);
    }

    /** The id {@link AdapterRows#ACTIVE} rows use: the active adapter's, none while one is merged. */
    int activeId() {
        String a = active;
        if (a == null || merged != null) {
            return AdapterRows.NONE_ID;
        }
        Integer id = ids.get(a);
        return id == null ? AdapterRows.NONE_ID : id;
    }
}
