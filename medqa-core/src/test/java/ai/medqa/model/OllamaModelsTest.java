package ai.medqa.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ollama:NAME[:TAG] resolved through a models folder laid out as Ollama lays it out. */
class OllamaModelsTest {
    @TempDir
    Path root;

    static final String HEX = "a".repeat(63) + "1";

    Path pulled(String manifestPath, String digestSeparator) throws Exception {
        Path manifest = root.resolve("manifests").resolve(manifestPath);
        Files.createDirectories(manifest.getParent());
        Files.writeString(manifest, """
                {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                 "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:%s", "size": 1},
                 "layers": [{"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:%s", "size": 2},
                            {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:%s", "size": 3}]}""".formatted("b".repeat(64), "c".repeat(64), HEX));
        Path blob = root.resolve("blobs").resolve("sha256" + digestSeparator + HEX);
        Files.createDirectories(blob.getParent());
        Files.write(blob, new byte[] {'G', 'G', 'U', 'F'});
        return blob;
    }

    @Test
    void namesTagsAndNamespacesResolveToTheModelBlob() throws Exception {
        Path blob = pulled("registry.ollama.ai/library/mistral/7b", "-");
        assertThat(OllamaModels.resolve("ollama:mistral:7b", root)).isEqualTo(blob);
        pulled("registry.ollama.ai/library/mistral/latest", "-");
        assertThat(OllamaModels.resolve("ollama:mistral", root)).isEqualTo(blob);
        pulled("registry.ollama.ai/someone/medmodel/q4", "-");
        assertThat(OllamaModels.resolve("ollama:someone/medmodel:q4", root)).isEqualTo(blob);
        Files.delete(blob);
        Path old = pulled("example.org/ns/model/v1", ":"); // older Ollama named blobs sha256:HEX
        assertThat(OllamaModels.resolve("ollama:example.org/ns/model:v1", root)).isEqualTo(old);
    }

    @Test
    void whatIsMissingIsNamed() throws Exception {
        assertThatThrownBy(() -> OllamaModels.resolve("ollama:llama9", root))
                .hasMessageContaining("Ollama has no such model")
                .hasMessageContaining("ollama pull llama9");
        Path blob = pulled("registry.ollama.ai/library/mistral/latest", "-");
        Files.delete(blob);
        assertThatThrownBy(() -> OllamaModels.resolve("ollama:mistral", root)).hasMessageContaining("not in");
        assertThatThrownBy(() -> OllamaModels.resolve("ollama:../x", root))
                .hasMessageContaining("expected ollama:NAME");
        // A model with an adapter layer would answer as another model without it: refused by name.
        pulled("registry.ollama.ai/library/medtuned/latest", "-");
        Path manifest = root.resolve("manifests/registry.ollama.ai/library/medtuned/latest");
        Files.writeString(manifest, Files.readString(manifest).replace("image.template", "image.adapter"));
        assertThatThrownBy(() -> OllamaModels.resolve("ollama:medtuned", root))
                .hasMessageContaining(
                        "ollama:medtuned: the Ollama model has a layer application/vnd.ollama.image.adapter");
    }
}
