package ai.medqa.bench;

import ai.medqa.MedQA;
import ai.medqa.chat.Message;
import ai.medqa.common.Json;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.io.DType;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.quant.Quantization;
import ai.medqa.server.MedQAServer;
import ai.medqa.server.ServerOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * A timed load run of {@code medqa serve}'s API, not a JMH benchmark (latency percentiles of one
 * run): {@code clients} concurrent clients send {@code requests} chat completions each over HTTP on
 * loopback, half greedy and half sampled with their own seed. Every response is compared with the
 * same request generated alone by the library (nothing lost or mixed), then p50/p95 latency and
 * total completion tokens/s are printed, beside the single-request decode speed of the same model.
 *
 * <pre>
 * java -cp jmh-benchmarks/target/benchmarks.jar ai.medqa.bench.ServerLoad clients=32 requests=20 tokens=16 quantize=int4 batch=8
 * </pre>
 *
 * Run from the repository root (it reads Mistral's tokenizer from medqa-core's test resources). The
 * model is model M of {@link EngineBenchmark} (random weights, Mistral's tokenizer).
 */
public final class ServerLoad {
    public static void main(String[] args) throws Exception {
        System.setProperty("ai.djl.offline", "true");
        Map<String, String> a =
                Arrays.stream(args).map(s -> s.split("=", 2)).collect(Collectors.toMap(s -> s[0], s -> s[1]));
        int clients = Integer.parseInt(a.getOrDefault("clients", "32"));
        int requests = Integer.parseInt(a.getOrDefault("requests", "20"));
        int tokens = Integer.parseInt(a.getOrDefault("tokens", "16"));
        int batch = Integer.parseInt(a.getOrDefault("batch", "8"));
        String quantize = a.getOrDefault("quantize", "int4");

        Path dir = Files.createTempDirectory("medqa-serverload");
        MistralConfig m = new MistralConfig(
                "mistral", 768, 2048, 12, 12, 4, 64, 32000, 1e-5, 10000.0, 0, 2048, true, 1, List.of(2), null);
        RandomCheckpoint.write(dir, m, DType.F16, 1);
        Path tokenizers = Path.of("medqa-core/src/test/resources/tokenizer");
        Files.copy(tokenizers.resolve("mistral-7b-v0.1/tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.copy(
                tokenizers.resolve("mistral-7b-instruct-v0.1/tokenizer_config.json"),
                dir.resolve("tokenizer_config.json"));

        try (MedQA medqa = MedQA.builder()
                .model(dir)
                .quantize(Quantization.parse(quantize))
                .build()) {
            int total = clients * requests;
            String[] expected = new String[total];
            long singleStart = System.nanoTime();
            long singleTokens = 0;
            for (int i = 0; i < total; i++) {
                var g = medqa.generate(
                        medqa.chatTemplate().encode(List.of(Message.user(question(i)))), config(i, tokens));
                expected[i] = g.text();
                singleTokens += g.tokens().length;
            }
            double singleSeconds = (System.nanoTime() - singleStart) / 1e9;

            ServerOptions options = ServerOptions.defaults("M").withPort(0).withLimits(batch, total, 1 << 20);
            try (MedQAServer server = MedQAServer.start(options, medqa)) {
                HttpClient http = HttpClient.newBuilder()
                        .version(HttpClient.Version.HTTP_1_1)
                        .build();
                long[] latency = new long[total];
                AtomicLong completion = new AtomicLong();
                AtomicLong mismatches = new AtomicLong();
                ExecutorService pool = Executors.newFixedThreadPool(clients);
                long start = System.nanoTime();
                List<Future<?>> done = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    int client = c;
                    done.add(pool.submit(() -> {
                        for (int r = 0; r < requests; r++) {
                            int i = client * requests + r;
                            ObjectNode body = Json.MAPPER.createObjectNode().put("max_tokens", tokens);
                            if (i % 2 == 0) {
                                body.put("temperature", 0);
                            } else {
                                body.put("temperature", 0.8).put("top_p", 0.95).put("seed", i);
                            }
                            body.putArray("messages")
                                    .addObject()
                                    .put("role", "user")
                                    .put("content", question(i));
                            long t0 = System.nanoTime();
                            HttpResponse<String> res = http.send(
                                    HttpRequest.newBuilder(URI.create(server.url() + "/v1/chat/completions"))
                                            .header("Content-Type", "application/json")
                                            .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                                            .build(),
                                    HttpResponse.BodyHandlers.ofString());
                            latency[i] = System.nanoTime() - t0;
                            JsonNode out = Json.MAPPER.readTree(res.body());
                            if (res.statusCode() != 200
                                    || !out.at("/choices/0/message/content")
                                            .asText()
                                            .equals(expected[i])) {
                                mismatches.incrementAndGet();
                                System.err.println("request " + i + ": " + res.statusCode() + " " + res.body());
                            }
                            completion.addAndGet(
                                    out.at("/usage/completion_tokens").asInt());
                        }
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                pool.shutdown();
                long[] sorted = latency.clone();
                Arrays.sort(sorted);
                System.out.printf(
                        "model M %s, %d clients x %d requests, max_tokens %d, max batch %d%n",
                        quantize, clients, requests, tokens, batch);
                System.out.printf(
                        "completed %d/%d, mismatches vs single runs: %d%n",
                        total - mismatches.get(), total, mismatches.get());
                System.out.printf(
                        "latency p50 %.0f ms, p95 %.0f ms, max %.0f ms%n",
                        sorted[total / 2] / 1e6, sorted[(int) (total * 0.95)] / 1e6, sorted[total - 1] / 1e6);
                System.out.printf(
                        "served: %d completion tokens in %.1f s = %.1f tok/s; one at a time in-process: %.1f tok/s%n",
                        completion.get(), seconds, completion.get() / seconds, singleTokens / singleSeconds);
            }
        }
    }

    static String question(int i) {
        return "Question " + i + ": does drug " + (i % 7) + " interact with condition " + (i % 11) + "?";
    }

    static GenerationConfig config(int i, int tokens) {
        GenerationConfig.Builder b = i % 2 == 0
                ? GenerationConfig.builder()
                : GenerationConfig.builder()
                        .doSample(true)
                        .temperature(0.8)
                        .topP(0.95)
                        .topK(0)
                        .seed(i);
        return b.maxNewTokens(tokens).build();
    }
}
