package ai.medqa.examples.cli;

import ai.medqa.server.MedQAServer;
import ai.medqa.server.ServerOptions;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code medqa serve}: the OpenAI-compatible API and the chat page, until interrupted. */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        description = "Serve the model over an OpenAI-compatible HTTP API, with a chat page at /.")
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(
            names = "--host",
            defaultValue = "127.0.0.1",
            description =
                    "Interface to bind (default ${DEFAULT-VALUE}, this machine only). Set --api-key-env before serving others.")
    String host;

    @Option(
            names = "--port",
            defaultValue = "8080",
            description = "TCP port (default ${DEFAULT-VALUE}; 0 picks a free one).")
    int port;

    @Option(
            names = "--api-key-env",
            description = "Name of the environment variable holding the API key clients must send.")
    String apiKeyEnv;

    @Option(names = "--feedback", description = "JSON Lines file the page's like/dislike votes are appended to.")
    Path feedback;

    @Option(
            names = "--max-batch",
            defaultValue = "8",
            description = "Rows decoded together (default ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(
            names = "--max-queue",
            defaultValue = "64",
            description = "Requests waiting beyond those; more get 429 (default ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(
            names = "--max-body",
            defaultValue = "1048576",
            description = "Largest request body in bytes (default ${DEFAULT-VALUE}).")
    int maxBody;

    @Option(
            names = "--allowed-hosts",
            split = ",",
            paramLabel = "NAME",
            description = "Host names to answer besides IP addresses and localhost (DNS rebinding protection): "
                    + "name, .domain (and its subdomains) or *; comma-separated or repeated.")
    List<String> allowedHosts = new ArrayList<>();

    @Option(
            names = "--allowed-origins",
            split = ",",
            paramLabel = "ORIGIN",
            description =
                    "Web origins whose pages may call the API from a browser (CORS), e.g. https://app.example.org, "
                            + "or *; the chat page at / needs none.")
    List<String> allowedOrigins = new ArrayList<>();

    @Option(
            names = "--adapters-dir",
            paramLabel = "DIR",
            description =
                    "Load every PEFT adapter folder in DIR at start (named after its folder), and let POST /v1/adapters "
                            + "{name, path} and DELETE /v1/adapters/NAME load and remove adapters under DIR while serving.")
    Path adaptersDir;

    @Option(
            names = "--served-model-name",
            description =
                    "The base model's id in /v1/models (default: the model folder's name, the GGUF file's name without .gguf, or the Ollama name).")
    String servedModelName;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    PrintStream err = System.err;
    /** Counted down by the shutdown hook (Ctrl-C); tests count it down to stop. */
    final CountDownLatch stopped = new CountDownLatch(1);

    @Override
    public Integer call() throws Exception {
        Path dir = model.requireModel();
        String key = null;
        if (apiKeyEnv != null) {
            key = System.getenv(apiKeyEnv);
            if (key == null || key.isEmpty()) {
                throw new picocli.CommandLine.ParameterException(
                        spec.commandLine(), "--api-key-env " + apiKeyEnv + ": that environment variable is not set");
            }
        }
        String name = servedModelName != null ? servedModelName : model.displayName(dir);
        ServerOptions options;
        if (adaptersDir != null && !Files.isDirectory(adaptersDir)) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(), "--adapters-dir " + adaptersDir + ": not a folder");
        }
        try {
            options = new ServerOptions(
                    host,
                    port,
                    key,
                    feedback,
                    maxBatch,
                    maxQueue,
                    maxBody,
                    name,
                    1024,
                    allowedHosts,
                    allowedOrigins,
                    adaptersDir);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(),
                    e.getMessage()
                            .replace("allowed origin", "--allowed-origins")
                            .replace("allowed host", "--allowed-hosts"));
        }
        var builder = model.builder(); // option errors before the port opens
        if (adaptersDir != null) {
            try (Stream<Path> dirs = Files.list(adaptersDir)) {
                for (Path d : dirs.filter(d -> Files.isRegularFile(d.resolve("adapter_config.json")))
                        .sorted()
                        .toList()) {
                    builder.lora(d.getFileName().toString(), d);
                }
            }
        }
        try (MedQAServer server = MedQAServer.start(options, builder::build)) {
            Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown));
            err.println("medqa: serving " + name + " on " + server.url() + "/ (loading the model)");
            server.awaitReady(Duration.ofDays(1));
            err.println("medqa: ready: " + server.url() + "/v1/chat/completions, chat page at " + server.url() + "/");
            stopped.await();
        }
        return 0;
    }
}
