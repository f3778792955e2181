package ai.medqa.metrics;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * The lexical metrics module must stay usable without DJL, PyTorch or MiniLM: its test class path is
 * its own dependency tree plus JUnit, so a DJL class resolving here means a DJL jar crept in.
 */
class NoNativeDependencyTest {

    @Test
    void noDjlNorMiniLmOnTheClassPath() {
        assertThatThrownBy(() -> Class.forName("ai.djl.ndarray.NDArray")).isInstanceOf(ClassNotFoundException.class);
        assertThatThrownBy(() -> Class.forName("ai.djl.huggingface.tokenizers.HuggingFaceTokenizer"))
                .isInstanceOf(ClassNotFoundException.class);
        assertThatThrownBy(() ->
                        Class.forName("dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel"))
                .isInstanceOf(ClassNotFoundException.class);
    }
}
