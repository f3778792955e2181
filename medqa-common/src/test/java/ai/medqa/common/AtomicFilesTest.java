package ai.medqa.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path tmp;

    @Test
    void aFailedWriteLeavesTheOldContentAndNoStagingFile() throws IOException {
        Path target = tmp.resolve("sub/report.json");
        AtomicFiles.write(target, out -> out.write("old".getBytes(StandardCharsets.UTF_8)));
        assertThatThrownBy(() -> AtomicFiles.write(target, out -> {
                    out.write("half".getBytes(StandardCharsets.UTF_8));
                    throw new IOException("disk full");
                }))
                .isInstanceOf(MedQAException.class)
                .hasMessageContaining("disk full")
                .hasMessageContaining("report.json");
        assertThat(Files.readString(target)).isEqualTo("old");
        try (var files = Files.list(target.getParent())) {
            assertThat(files).containsExactly(target);
        }
    }

    @Test
    void aDirectoryIsNotOverwritten() {
        assertThatThrownBy(() -> AtomicFiles.write(tmp, out -> {}))
                .isInstanceOf(MedQAException.class)
                .hasMessageContaining("is a directory");
    }
}
