package ai.medqa.model;

import ai.medqa.common.Json;
import ai.medqa.io.CheckpointException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Models Ollama has pulled: {@code ollama:NAME[:TAG]} resolved, as Ollama stores them, to the GGUF
 * blob of the model's manifest ({@code OLLAMA_MODELS}, else {@code ~/.ollama/models}:
 * {@code manifests/registry.ollama.ai/library/NAME/TAG}, layer {@code application/vnd.ollama.image.model},
 * {@code blobs/sha256-HEX}). The blob is read in place, never copied.
 */
public final class OllamaModels {
    public static final String PREFIX = "ollama:";
    private static final String MODEL_LAYER = "application/vnd.ollama.image.model";

    private OllamaModels() {}

    /** Whether {@code spec} names an Ollama model ({@code ollama:mistral:7b}). */
    public static boolean isOllama(String spec) {
        return spec.startsWith(PREFIX);
    }

    /** The models folder: {@code OLLAMA_MODELS}, else {@code ~/.ollama/models}. */
    public static Path root() {
        String env = System.getenv("OLLAMA_MODELS");
        return env != null && !env.isBlank()
                ? Path.of(env)
                : Path.of(System.getProperty("user.home"), ".ollama", "models");
    }

    /** The GGUF file of {@code ollama:NAME[:TAG]} under {@link #root()}. */
    public static Path resolve(String spec) {
        return resolve(spec, root());
    }

    /**
     * The GGUF file of {@code ollama:NAME[:TAG]} under {@code root}. NAME may be {@code mistral},
     * {@code user/model} or {@code host/namespace/model}; TAG defaults to {@code latest}.
     *
     * @throws CheckpointException naming what is missing (the manifest, its model layer, the blob)
     */
    public static Path resolve(String spec, Path root) {
        String ref = spec.startsWith(PREFIX) ? spec.substring(PREFIX.length()) : spec;
        int colon = ref.lastIndexOf(':');
        String name = colon > ref.lastIndexOf('/') && colon >= 0 ? ref.substring(0, colon) : ref;
        String tag = colon > ref.lastIndexOf('/') && colon >= 0 ? ref.substring(colon + 1) : "latest";
        if (name.isEmpty() || tag.isEmpty() || name.contains("..") || tag.contains("/") || tag.contains("..")) {
            throw new CheckpointException("--model " + spec + ": expected ollama:NAME or ollama:NAME:TAG");
        }
        String[] parts = name.split("/");
        Path manifest = root.resolve("manifests");
        manifest = switch (parts.length) {
            case 1 -> manifest.resolve("registry.ollama.ai").resolve("library").resolve(parts[0]);
            case 2 -> manifest.resolve("registry.ollama.ai").resolve(parts[0]).resolve(parts[1]);
            case 3 -> manifest.resolve(parts[0]).resolve(parts[1]).resolve(parts[2]);
            default ->
                throw new CheckpointException(
                        "--model " + spec + ": expected NAME, NAMESPACE/NAME or HOST/NAMESPACE/NAME");
        };
        manifest = manifest.resolve(tag);
        if (!Files.isRegularFile(manifest)) {
            throw new CheckpointException(spec + ": Ollama has no such model here (no manifest " + manifest
                    + "; OLLAMA_MODELS or ~/.ollama/models; `ollama pull " + ref + "` fetches it)");
        }
        JsonNode json;
        try {
            json = Json.MAPPER.readTree(manifest.toFile());
        } catch (IOException e) {
            throw new CheckpointException(manifest + ": not a readable Ollama manifest: " + e.getMessage(), e);
        }
        for (JsonNode layer : json.path("layers")) {
            // A LoRA adapter or a vision projector changes what the model computes: running the base
            // without it would answer as another model, so refuse rather than drop it.
            String type = layer.path("mediaType").asText();
            if (type.equals("application/vnd.ollama.image.adapter")
                    || type.equals("application/vnd.ollama.image.projector")) {
                throw new CheckpointException(
                        spec + ": the Ollama model has a layer " + type + " (an adapter or a vision "
                                + "projector), which MedQA does not apply; run its base model, with a PEFT adapter through --lora");
            }
        }
        for (JsonNode layer : json.path("layers")) {
            if (MODEL_LAYER.equals(layer.path("mediaType").asText())) {
                String digest = layer.path("digest").asText();
                if (!digest.matches("sha256[:-][0-9a-f]{64}")) {
                    throw new CheckpointException(
                            manifest + ": model layer digest \"" + digest + "\" is not sha256:HEX");
                }
                String hex = digest.substring(7);
                for (String file : new String[] {"sha256-" + hex, "sha256:" + hex}) {
                    Path blob = root.resolve("blobs").resolve(file);
                    if (Files.isRegularFile(blob)) {
                        return blob;
                    }
                }
                throw new CheckpointException(spec + ": the manifest names blob " + digest + ", which is not in "
                        + root.resolve("blobs") + " (an interrupted pull? `ollama pull " + ref + "` again)");
            }
        }
        throw new CheckpointException(manifest + ": no layer of type " + MODEL_LAYER + " (not a model?)");
    }
}
