package ai.medqa.lora;

/**
 * Which adapter a model's LoRA layers apply, which one is merged into the base weights, and whether
 * dropout is on: one object shared by every {@link LoraLinear} of a model, so the layers can never
 * disagree and a switch is one write.
 */
final class LoraState {
    volatile String active;
    volatile String merged;
    volatile boolean training;
}
