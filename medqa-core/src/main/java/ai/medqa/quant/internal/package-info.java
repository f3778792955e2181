/**
 * Internal, not an API: the quantized {@code Linear}s and their storage: {@code Int4Linear} with
 * {@code Int4Weight} and {@code Int4Packing} (PyTorch's packed int4 layout), {@code Int8Linear},
 * and {@code Nf4Linear} with {@code Nf4} and {@code Nf4Weight} (bitsandbytes' NF4). Users choose a
 * format through {@link ai.medqa.quant.Quantization}; these classes change without notice, and
 * {@code LayeringTest} keeps every module but medqa-core and the benchmarks away from them.
 */
package ai.medqa.quant.internal;
