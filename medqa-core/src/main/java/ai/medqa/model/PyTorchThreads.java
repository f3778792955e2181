package ai.medqa.model;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PyTorch's intra-op threads, a setting of the whole process (PyTorch's default: one per physical
 * core). On a machine shared with other busy processes, fewer threads than cores avoid PyTorch's
 * workers spinning while they wait on a busy core: on 2 cores with one busy, throughput drops
 * 5-15x.
 */
public final class PyTorchThreads {
    private static final Logger log = LoggerFactory.getLogger(PyTorchThreads.class);

    private PyTorchThreads() {}

    /** Sets PyTorch's intra-op threads for the whole process. */
    public static void set(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + n);
        }
        Engine.getEngine("PyTorch"); // loads the native library the call goes to
        JniUtils.setNumThreads(n);
        log.info("PyTorch intra-op threads: {}", n);
    }

    /** PyTorch's intra-op threads now. */
    public static int get() {
        Engine.getEngine("PyTorch");
        return JniUtils.getNumThreads();
    }
}
