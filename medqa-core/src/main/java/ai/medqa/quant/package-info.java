/**
 * Quantized projections: NF4 as bitsandbytes defines it, and INT8 per output channel.
 *
 * <ul>
 *   <li>{@link ai.medqa.quant.Nf4}: the code table, quantize (blocks of 64, optional double
 *       quantization of the absmax) and the plain-Java reference dequantizer;
 *       {@link ai.medqa.quant.Nf4Weight} holds one quantized tensor.
 *   <li>{@link ai.medqa.quant.Nf4Linear} and {@link ai.medqa.quant.Int8Linear}: the
 *       {@link ai.medqa.model.Linear}s holding those on the device, each with measured kernels.
 *   <li>{@link ai.medqa.quant.Quantization}: NONE / NF4 / INT8, whose
 *       {@link ai.medqa.quant.Quantization#linears()} is the factory to give
 *       {@code MistralModel.load}; {@link ai.medqa.quant.QuantizedLinears} builds the variants.
 *   <li>{@link ai.medqa.quant.Nf4Checkpoint}: bitsandbytes' 4-bit safetensors layout, read and
 *       written ({@code medqa quantize}).
 * </ul>
 */
package ai.medqa.quant;
