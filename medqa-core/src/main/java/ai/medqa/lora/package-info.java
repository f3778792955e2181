/**
 * LoRA adapters in Hugging Face PEFT's format.
 *
 * <p>{@link ai.medqa.lora.LoraConfig} reads {@code adapter_config.json} and answers PEFT's questions
 * per module (is it targeted, with which rank and scaling); {@link ai.medqa.lora.LoraAdapter} holds
 * the {@code lora_A}/{@code lora_B} arrays of one adapter and reads and writes
 * {@code adapter_model.safetensors}; {@link ai.medqa.lora.LoraAdapters} attaches adapters to a model
 * (as package-private {@code LoraLinear} decorators that add {@code scaling * B A x} to any base
 * projection), switches between them, merges and unmerges; {@link ai.medqa.lora.LoraMerge} writes a
 * merged checkpoint.
 */
package ai.medqa.lora;
