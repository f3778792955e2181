package ai.medqa.examples.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** Where the command line's output goes. */
final class Terminal {
    private Terminal() {}

    /**
     * Whether standard error is a terminal, so that a progress bar redrawn with {@code \r} is read by a
     * person rather than written into a log file. On Linux by what file descriptor 2 is; elsewhere by
     * {@link System#console()} (a terminal on both ends of the process).
     */
    static boolean stderrIsTerminal() {
        Path fd = Path.of("/proc/self/fd/2");
        if (Files.exists(fd, LinkOption.NOFOLLOW_LINKS)) {
            try {
                String target = Files.readSymbolicLink(fd).toString();
                return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
            } catch (IOException | UnsupportedOperationException e) {
                return System.console() != null;
            }
        }
        return System.console() != null;
    }
}
