/**
 * Checkpoint files on disk, with no DJL types: {@link ai.medqa.io.SafetensorsFile} reads one
 * memory-mapped safetensors file and validates its header, {@link ai.medqa.io.Checkpoint} joins the
 * shards of a Hugging Face folder through {@code model.safetensors.index.json},
 * {@link ai.medqa.io.HalfFloat} converts F16/BF16 bits, and {@link ai.medqa.io.SafetensorsWriter}
 * writes files atomically (for adapters and quantized checkpoints).
 */
package ai.medqa.io;
