package ai.medqa.common;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StagingTest {

    /** The id of a process that has exited: what a killed writer leaves in its staging names. */
    static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        long pid = p.pid();
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
                .isFalse();
        return pid;
    }

    @Test
    void removesOnlyTheStagingOfDeadProcessesForTheSameTarget(@TempDir Path dir) throws Exception {
        Path target = dir.resolve("out.jsonl");
        long dead = deadPid();
        Path staleFile = Files.writeString(dir.resolve(".out.jsonl." + dead + ".0badcafe.tmp"), "half");
        Path staleDir = Files.createDirectories(dir.resolve(".out.jsonl." + dead + ".00c0ffee.tmp/sub"));
        Files.writeString(staleDir.resolve("x"), "half");
        // A live concurrent writer (this test's parent, the Maven JVM or the shell: alive) is left alone.
        long live = ProcessHandle.current().parent().orElseThrow().pid();
        Path liveFile = Files.writeString(dir.resolve(".out.jsonl." + live + ".12345678.tmp"), "writing");
        // Other targets' staging and things that merely look alike are never touched.
        Path other = Files.writeString(dir.resolve(".other.jsonl." + dead + ".0badcafe.tmp"), "x");
        Path checkpoint = Files.createDirectories(dir.resolve("checkpoint-6"));
        Path notOurs = Files.writeString(dir.resolve(".out.jsonl.tmp"), "x");

        Path mine = Staging.file(target);
        assertThat(staleFile).doesNotExist();
        assertThat(staleDir.getParent()).doesNotExist();
        assertThat(liveFile).exists();
        assertThat(other).exists();
        assertThat(checkpoint).exists();
        assertThat(notOurs).exists();
        assertThat(mine.getFileName().toString())
                .startsWith(".out.jsonl." + ProcessHandle.current().pid() + ".");
        assertThat(Staging.sweep(target)).as("our own staging is never swept").isZero();
        assertThat(mine).exists();
    }
}
