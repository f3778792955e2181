/**
 * The Mistral decoder: {@link ai.medqa.model.MistralModel} loaded from a checkpoint ({@link
 * ai.medqa.model.MistralConfig}, {@link ai.medqa.model.GgufModel}, {@link
 * ai.medqa.model.OllamaModels}), its {@link ai.medqa.model.KvCache}, and the seam where weight formats
 * plug in: a {@link ai.medqa.model.Linear} per projection, built by a {@link
 * ai.medqa.model.LinearFactory} from {@link ai.medqa.model.Weights}. The blocks ({@code Attention},
 * {@code Mlp}, {@code RmsNorm}, {@code Rope}) are package-private and named as in transformers'
 * {@code modeling_mistral.py}; the fused step and the dense kinds live in {@link
 * ai.medqa.model.internal}.
 */
package ai.medqa.model;
