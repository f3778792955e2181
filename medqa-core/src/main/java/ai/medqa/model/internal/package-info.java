/**
 * Internal, not an API: the fused decoder step ({@code DecoderStep} and its TorchScript source
 * {@code decoder_step.py}), the forms a projection takes in it ({@code FusedProjection}), the
 * dense and bfloat16 {@code Linear}s, and {@code Ops}, the one place that reaches DJL's engine
 * internals. Public only so that {@code model}, {@code quant} and {@code lora} (and the benchmarks)
 * can share them; they change without notice, and {@code LayeringTest} keeps every module but
 * medqa-core and the benchmarks away from them.
 */
package ai.medqa.model.internal;
