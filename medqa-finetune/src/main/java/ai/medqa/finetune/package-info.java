/**
 * LoRA / QLoRA fine-tuning of Mistral models, producing adapters in PEFT's format.
 *
 * <p>Public surface: {@link ai.medqa.finetune.FineTune} (builder and {@code run()}), {@link
 * ai.medqa.finetune.FineTuneResult}, {@link ai.medqa.finetune.StepStats}, {@link
 * ai.medqa.finetune.DataStats}, {@link ai.medqa.finetune.Example}, {@link
 * ai.medqa.finetune.PromptTemplate}, {@link ai.medqa.finetune.Schedule} and {@link
 * ai.medqa.finetune.TrainStepCheck} (the PyTorch golden step). Everything else (the loss, AdamW,
 * clipping, tokenization, batching, checkpoints) is package-private and tested here against PyTorch,
 * transformers and PEFT reference values.
 *
 * <p>A quantized base plugs in through {@link ai.medqa.finetune.FineTune.Builder#baseLinears}: any
 * {@link ai.medqa.model.Linear} whose forward is built from DJL operations works, since gradients only
 * need to flow through it to the LoRA matrices (the base itself never requires a gradient).
 */
package ai.medqa.finetune;
