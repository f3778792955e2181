package ai.medqa.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PyTorchThreadsTest {

    @Test
    void setsThePoolAndRefusesLessThanOne() {
        int before = PyTorchThreads.get();
        try {
            PyTorchThreads.set(1);
            assertThat(PyTorchThreads.get()).isEqualTo(1);
        } finally {
            PyTorchThreads.set(before);
        }
        assertThat(PyTorchThreads.get()).isEqualTo(before);
        assertThatThrownBy(() -> PyTorchThreads.set(0)).hasMessageContaining("at least 1");
    }
}
