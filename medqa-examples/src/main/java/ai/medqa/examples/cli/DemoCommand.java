package ai.medqa.examples.cli;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.MedQA;
import ai.medqa.generate.Generation;
import ai.medqa.generate.GenerationConfig;
import ai.medqa.io.DType;
import ai.medqa.io.TensorData;
import ai.medqa.lora.LoraAdapter;
import ai.medqa.lora.LoraConfig;
import ai.medqa.metrics.lexical.PairScorer;
import ai.medqa.metrics.pubmedqa.PubMedQaItem;
import ai.medqa.metrics.pubmedqa.PubMedQaLoader;
import ai.medqa.metrics.report.EvaluationResult;
import ai.medqa.metrics.report.Reports;
import ai.medqa.metrics.report.ScoreChart;
import ai.medqa.model.LinearFactory;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.MistralModel;
import ai.medqa.model.RandomCheckpoint;
import ai.medqa.quant.Quantization;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code medqa demo}: every step of the product on a small model that ships with nothing but
 * Mistral's real tokenizer: random weights written at start, quantized on load, a LoRA adapter in
 * PEFT's format applied, three PubMedQA questions answered in the chat format (streamed), the answers
 * scored against the references with every lexical metric, and a report folder with a chart. The
 * weights are random: the answers are noise; the pipeline is real.
 */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description =
                "Run the whole pipeline on a small RANDOM-WEIGHT model with Mistral's real tokenizer: quantize on "
                        + "load, apply a LoRA adapter, answer three PubMedQA questions (streamed), score them, write a report.")
final class DemoCommand implements Callable<Integer> {
    private static final String DATA = "/ai/medqa/examples/demo/";

    @Option(
            names = "--out",
            defaultValue = "medqa-demo",
            description = "Folder for the model, adapter and report (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(
            names = "--quantize",
            defaultValue = "int4",
            description = "int4, nf4, int8 or none (default ${DEFAULT-VALUE}).")
    String quantize;

    @Option(
            names = "--max-new-tokens",
            defaultValue = "40",
            description = "Tokens per answer (default ${DEFAULT-VALUE}).")
    int maxNewTokens;

    PrintStream stdout = System.out;

    @Override
    public Integer call() throws IOException {
        Quantization quantization = Quantization.parse(quantize);
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + " is a file; the demo writes a folder");
        }
        long started = System.nanoTime();
        Path model = out.resolve("random-model");
        Path adapter = out.resolve("random-adapter");
        Path report = out.resolve("report");
        stdout.println(
                "MedQA demo. The model and adapter are RANDOM WEIGHTS (nothing to download here): the answers are "
                        + "noise, every step that produces them is real.");
        writeModel(model);
        writeAdapter(model, adapter);
        Path questions = copy("pubmedqa_3.json", out.resolve("pubmedqa_3.json"));
        List<PubMedQaItem> items = PubMedQaLoader.load(questions);

        GenerationConfig config = MedQA.ASK_DEFAULTS.toBuilder()
                .maxNewTokens(maxNewTokens)
                .seed(42)
                .build();
        PairScorer scorer = new PairScorer();
        List<EvaluationResult.Row> rows = new ArrayList<>();
        try (MedQA medqa = MedQA.builder()
                .model(model)
                .quantize(quantization)
                .lora(adapter)
                .build()) {
            stdout.printf(
                    Locale.ROOT,
                    "model: %s, projections %s, adapter %s active%n%n",
                    model,
                    quantization,
                    medqa.activeAdapter().orElse("none"));
            for (PubMedQaItem item : items) {
                stdout.println("Q (PMID " + item.pmid() + "): " + item.question());
                // "A: " goes out with the first piece: a log line printed while the step compiles stays off the answer.
                boolean[] answering = {false};
                Generation g = medqa.stream(item.question(), config, piece -> {
                    if (!answering[0]) {
                        stdout.print("A: ");
                        answering[0] = true;
                    }
                    stdout.print(piece);
                    stdout.flush();
                });
                stdout.println(answering[0] ? "" : "A: ");
                stdout.printf(
                        Locale.ROOT,
                        "   (%d tokens, %.0f tokens/s; reference: %s)%n%n",
                        g.tokens().length,
                        g.decodeTokensPerSecond(),
                        item.finalDecision());
                Map<String, String> fields = new LinkedHashMap<>();
                fields.put("question", item.question());
                fields.put("answer", g.text());
                fields.put("reference", item.longAnswer());
                rows.add(new EvaluationResult.Row(item.pmid(), fields, scorer.score(g.text(), item.longAnswer())));
            }
        }
        EvaluationResult result = EvaluationResult.of("medqa demo (random weights)", rows, 42);
        Files.createDirectories(report);
        Reports.writeJson(result, report.resolve("scores.json"));
        Reports.writeCsv(result, report.resolve("scores.csv"));
        Reports.writeMarkdown(result, report.resolve("report.md"));
        ScoreChart.writePng(result, List.of("squad_f1", "rougeL_f", "bleu_m1"), 900, 480, report.resolve("scores.png"));
        stdout.printf(
                Locale.ROOT,
                "mean token F1 %.3f, ROUGE-L F %.3f, BLEU (method 1) %.3f over %d answers%n",
                result.aggregates().get("squad_f1").mean(),
                result.aggregates().get("rougeL_f").mean(),
                result.aggregates().get("bleu_m1").mean(),
                rows.size());
        stdout.printf(
                Locale.ROOT,
                "report: %s (scores.json, scores.csv, report.md, scores.png); %.1f s%n",
                report,
                (System.nanoTime() - started) / 1e9);
        return 0;
    }

    /** A small Mistral (~24M parameters) with the real 32,000-token vocabulary, and its tokenizer. */
    private void writeModel(Path dir) throws IOException {
        if (Files.exists(dir.resolve("model.safetensors"))) {
            return;
        }
        MistralConfig config = RandomCheckpoint.config(256, 512, 4, 4, 2, 32000, 2048, 0);
        RandomCheckpoint.write(dir, config, DType.F16, 2024);
        copy("tokenizer.json", dir.resolve("tokenizer.json"));
        copy("tokenizer_config.json", dir.resolve("tokenizer_config.json"));
    }

    /** A rank-8 adapter on q_proj and v_proj with random A and B, saved in PEFT's format. */
    private void writeAdapter(Path model, Path dir) {
        if (Files.exists(dir.resolve("adapter_model.safetensors"))) {
            return;
        }
        try (MistralModel m = MistralModel.load(model, Device.cpu(), DataType.FLOAT32, LinearFactory.DENSE)) {
            LoraConfig config = LoraConfig.of(8, 16, 0.05, List.of("q_proj", "v_proj"));
            MistralConfig c = m.config();
            SplittableRandom random = new SplittableRandom(7);
            Map<String, TensorData> tensors = new LinkedHashMap<>();
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                for (String p : List.of("q_proj", "v_proj")) {
                    long out = p.equals("q_proj")
                            ? (long) c.numAttentionHeads() * c.headDim()
                            : (long) c.numKeyValueHeads() * c.headDim();
                    String key = "base_model.model.model.layers." + l + ".self_attn." + p;
                    tensors.put(
                            key + ".lora_A.weight", gaussian(random, 8, c.hiddenSize(), 1 / Math.sqrt(c.hiddenSize())));
                    tensors.put(key + ".lora_B.weight", gaussian(random, out, 8, 0.05));
                }
            }
            try (LoraAdapter a = LoraAdapter.fromTensors(m, "random-adapter", config, tensors, "medqa demo")) {
                a.save(dir);
            }
        }
    }

    private static TensorData gaussian(SplittableRandom random, long rows, long cols, double std) {
        float[] v = new float[Math.toIntExact(rows * cols)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (random.nextGaussian() * std);
        }
        return TensorData.ofFloats(DType.F32, new long[] {rows, cols}, v);
    }

    private static Path copy(String resource, Path target) throws IOException {
        Files.createDirectories(target.toAbsolutePath().getParent());
        try (InputStream in = DemoCommand.class.getResourceAsStream(DATA + resource)) {
            if (in == null) {
                throw new IOException("missing resource " + DATA + resource + " in medqa.jar");
            }
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
        return target;
    }
}
