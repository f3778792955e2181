/**
 * Generation: {@link ai.medqa.generate.GenerationConfig} (transformers' sampling settings, each
 * checked once at {@code build()}), {@link ai.medqa.generate.Generator} for direct calls, {@link
 * ai.medqa.generate.BatchEngine} for many requests decoded together, {@link
 * ai.medqa.generate.Constraint} for structured output (choices, regular expressions, JSON Schema),
 * and the {@link ai.medqa.generate.Generation} with its {@link ai.medqa.generate.StopReason} and
 * {@link ai.medqa.generate.TokenLogprob}s that come back. The samplers and logits processors
 * behind them follow transformers' {@code generate()} order.
 */
package ai.medqa.generate;
