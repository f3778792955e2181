package ai.medqa.common;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hidden staging files and folders that writers fill and then move onto their target, so that a
 * crash never leaves half a file. Names carry the writing process's id
 * ({@code .<target>.<pid>.<random>.tmp}), so the next writer into the same folder removes what a
 * killed process left behind, and only that: a live process's staging is left alone, and nothing
 * that is not a staging entry of the same target name is ever touched.
 */
public final class Staging {
    private static final Pattern NAME = Pattern.compile("\\.(.+)\\.(\\d+)\\.[0-9a-f]{8}\\.tmp");

    private Staging() {}

    /** A new empty staging file next to {@code target} (whose folder must exist), after sweeping stale ones. */
    public static Path file(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        sweep(abs);
        return Files.createFile(abs.resolveSibling(name(abs)));
    }

    /** A new empty staging folder next to {@code target} (whose folder must exist), after sweeping stale ones. */
    public static Path directory(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        sweep(abs);
        return Files.createDirectory(abs.resolveSibling(name(abs)));
    }

    /**
     * Removes the staging entries of {@code target} whose process is gone.
     *
     * @return how many were removed
     */
    public static int sweep(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            return 0;
        }
        String targetName = abs.getFileName().toString();
        int removed = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, "." + targetName + ".*.tmp")) {
            for (Path p : entries) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (!m.matches() || !m.group(1).equals(targetName)) {
                    continue;
                }
                long pid = Long.parseLong(m.group(2));
                if (pid != ProcessHandle.current().pid()
                        && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    continue; // a concurrent writer's
                }
                if (pid == ProcessHandle.current().pid()) {
                    continue; // ours, in use or cleaned by its owner
                }
                delete(p);
                removed++;
            }
        }
        return removed;
    }

    private static String name(Path target) {
        return "." + target.getFileName() + "." + ProcessHandle.current().pid() + "."
                + String.format("%08x", ThreadLocalRandom.current().nextInt()) + ".tmp";
    }

    private static void delete(Path p) throws IOException {
        if (!Files.isDirectory(p)) {
            Files.deleteIfExists(p);
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
