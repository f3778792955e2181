package ai.medqa.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ServeCommandTest {

    @Test
    void servesTheModelAndItsAdapterUntilStopped(@TempDir Path dir) throws Exception {
        DemoCommand demo = new DemoCommand();
        demo.stdout = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        assertThat(new CommandLine(demo).execute("--out", dir.toString(), "--max-new-tokens", "2"))
                .isZero();

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ServeCommand serve = new ServeCommand();
        serve.err = new PrintStream(err, true, StandardCharsets.UTF_8);
        // --adapters-dir: its adapter folders load at start, named after the folder.
        Path adapters = java.nio.file.Files.createDirectories(dir.resolve("adapters"));
        java.nio.file.Files.createDirectories(adapters.resolve("live"));
        try (var files = java.nio.file.Files.list(dir.resolve("random-adapter"))) {
            for (Path f : files.toList()) {
                java.nio.file.Files.copy(f, adapters.resolve("live").resolve(f.getFileName()));
            }
        }
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> new CommandLine(serve)
                .execute(
                        "--model",
                        dir.resolve("random-model").toString(),
                        "--lora",
                        "tuned=" + dir.resolve("random-adapter"),
                        "--port",
                        "0",
                        "--quantize",
                        "int8",
                        "--adapters-dir",
                        adapters.toString()));
        Pattern ready = Pattern.compile("ready: (http://127\\.0\\.0\\.1:\\d+)/");
        Matcher m = ready.matcher("");
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (!(m = ready.matcher(err.toString(StandardCharsets.UTF_8))).find()) {
            assertThat(exit).as(err.toString(StandardCharsets.UTF_8)).isNotDone();
            assertThat(System.nanoTime()).isLessThan(deadline);
            Thread.sleep(50);
        }
        String url = m.group(1);
        HttpClient client =
                HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String models = client.send(
                        HttpRequest.newBuilder(URI.create(url + "/v1/models")).build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
        assertThat(models)
                .contains("\"id\":\"random-model\"")
                .contains("\"id\":\"tuned\"")
                .contains("\"id\":\"live\"");
        HttpResponse<String> answer = client.send(
                HttpRequest.newBuilder(URI.create(url + "/v1/chat/completions"))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"tuned\",\"max_tokens\":4,\"messages\":"
                                + "[{\"role\":\"user\",\"content\":\"Is aspirin an NSAID?\"}]}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(answer.body()).contains("\"completion_tokens\":");
        serve.stopped.countDown();
        assertThat(exit.get()).isZero();
    }

    @Test
    void aMissingKeyVariableIsAUsageError(@TempDir Path dir) {
        ServeCommand serve = new ServeCommand();
        int code =
                new CommandLine(serve).execute("--model", dir.toString(), "--api-key-env", "MEDQA_TEST_UNSET_KEY_VAR");
        assertThat(code).isEqualTo(2);
    }
}
