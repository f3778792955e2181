/**
 * Weight formats as a user chooses them: {@link ai.medqa.quant.Quantization} (F32/F16, BF16, INT8,
 * INT4, NF4, ...), whose {@link ai.medqa.quant.Quantization#linears()} is the {@link
 * ai.medqa.model.LinearFactory} to load a model with ({@link ai.medqa.quant.QuantizedLinears} builds
 * the variants); {@link ai.medqa.quant.LmHead} for the output head; and the stored forms, read and
 * written ({@code medqa quantize}): {@link ai.medqa.quant.Nf4Checkpoint} (bitsandbytes' 4-bit
 * safetensors layout) and {@link ai.medqa.quant.PackedCheckpoint}. The kernels are in {@link
 * ai.medqa.quant.internal}.
 */
package ai.medqa.quant;
