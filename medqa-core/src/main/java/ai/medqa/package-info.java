/**
 * The entry point: {@link ai.medqa.MedQA} loads a checkpoint (Hugging Face folder, GGUF file or
 * Ollama model) with its tokenizer, chat template and adapters, and answers questions directly or
 * through a {@link ai.medqa.generate.BatchEngine}. Its failures are {@link
 * ai.medqa.common.MedQAException}s.
 */
package ai.medqa;
