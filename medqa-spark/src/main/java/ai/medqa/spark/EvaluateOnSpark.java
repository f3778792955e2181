package ai.medqa.spark;

import ai.medqa.MedQA;
import ai.medqa.eval.Evaluation;
import ai.medqa.eval.PubMedQaData;
import ai.medqa.eval.SpecFile;
import ai.medqa.quant.LmHead;
import ai.medqa.quant.Quantization;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * {@code spark-submit --class ai.medqa.spark.EvaluateOnSpark}: {@code medqa eval}'s PubMedQA evaluation
 * as a Spark job (options as {@code medqa eval} spells them, plus {@code --parts} and
 * {@code --partitions}). Without {@code --master} from spark-submit it runs in {@code local[*]}.
 * Whether DJL may download is the job's choice, not this class's: submit with
 * {@code -Dai.djl.offline=true} for the driver and the executors when the PyTorch natives come with the
 * job's jars (README). Usage errors exit 2, other errors 1, each with one line {@code medqa: error: ...}.
 */
public final class EvaluateOnSpark {
    static final String USAGE = """
            usage: spark-submit --class ai.medqa.spark.EvaluateOnSpark medqa-spark.jar --model DIR --out DIR [options]
              --model DIR             Hugging Face model folder, at the same path on every executor
              --out DIR               driver folder for run.json, predictions.jsonl, summary.json, report.md
              --parts URI             where Spark writes the prediction parts (default: OUT/parts)
              --partitions N          tasks (default: 4 per core)
              --mode MODE             likelihood (default) or generate
              --split SPLIT           test (default) or all;  --limit N;  --pubids ID,...;  --data FILE
              --contexts C            with, without or both (default: with; generate: without)
              --lora NAME=DIR         a LoRA adapter (repeatable; a bare DIR takes the folder's name)
              --spec FILE             configurations as JSON (medqa eval --spec);  --grid
              --quantize Q            none, int4, int8, nf4;  --precision F32|F16|BF16;  --device cpu|cuda[:N]
              --no-bos  --bootstrap N  --seed N  --batch-size N  --max-new-tokens N
            """;

    private EvaluateOnSpark() {}

    public static void main(String[] args) {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("medqa: error: " + e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
            return;
        }
        if (o == null) {
            System.out.print(USAGE);
            return;
        }
        SparkConf conf = new SparkConf().setAppName("medqa-eval");
        if (!conf.contains("spark.master")) {
            conf.setMaster("local[*]");
        }
        SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
        int status = 0;
        try {
            List<Evaluation.ConfigSummary> summaries = o.evaluation(spark).run();
            for (Evaluation.ConfigSummary s : summaries) {
                System.out.printf(
                        Locale.ROOT,
                        "%s: n=%d accuracy=%.3f macro-F1=%.3f%n",
                        s.name(),
                        s.n(),
                        s.accuracy(),
                        s.macroF1());
            }
            System.out.println("report: " + o.out.resolve("report.md"));
        } catch (IllegalArgumentException e) {
            System.err.println("medqa: error: " + e.getMessage());
            status = 2;
        } catch (RuntimeException e) {
            System.err.println("medqa: error: " + e.getMessage());
            status = 1;
        } finally {
            spark.stop();
        }
        if (status != 0) {
            System.exit(status);
        }
    }

    /** The command line, checked before Spark starts. */
    static final class Options {
        String model;
        Path out;
        String parts;
        int partitions;
        Evaluation.Mode mode = Evaluation.Mode.LIKELIHOOD;
        PubMedQaData.Split split = PubMedQaData.Split.TEST;
        int limit;
        List<String> pubids = List.of();
        Path data;
        String contexts;
        final List<String[]> loras = new ArrayList<>();
        Path spec;
        boolean grid;
        Quantization quantize = Quantization.NONE;
        MedQA.Precision precision = MedQA.Precision.F32;
        String device = "cpu";
        boolean bos = true;
        int bootstrap = 1000;
        long seed;
        int batchSize = 8;
        int maxNewTokens = 150;

        /** The options, or null for --help. */
        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "-h", "--help" -> {
                        return null;
                    }
                    case "--no-bos" -> o.bos = false;
                    case "--grid" -> o.grid = true;
                    default -> {
                        if (!a.startsWith("--") || i + 1 >= args.length) {
                            throw new IllegalArgumentException(
                                    a.startsWith("--") ? a + " needs a value" : "unexpected argument " + a);
                        }
                        o.set(a, args[++i]);
                    }
                }
            }
            if (o.model == null || o.out == null) {
                throw new IllegalArgumentException("--model and --out are required");
            }
            if (o.contexts == null) {
                o.contexts = o.mode == Evaluation.Mode.GENERATE ? "without" : "with";
            }
            return o;
        }

        private void set(String name, String v) {
            switch (name) {
                case "--model" -> model = v;
                case "--out" -> out = Path.of(v);
                case "--parts" -> parts = v;
                case "--partitions" -> partitions = positive(name, v);
                case "--mode" ->
                    mode = switch (v.toLowerCase(Locale.ROOT)) {
                        case "likelihood" -> Evaluation.Mode.LIKELIHOOD;
                        case "generate" -> Evaluation.Mode.GENERATE;
                        default ->
                            throw new IllegalArgumentException("--mode " + v + ": expected likelihood or generate");
                    };
                case "--split" ->
                    split = switch (v.toLowerCase(Locale.ROOT)) {
                        case "test" -> PubMedQaData.Split.TEST;
                        case "all" -> PubMedQaData.Split.ALL;
                        default -> throw new IllegalArgumentException("--split " + v + ": expected test or all");
                    };
                case "--limit" -> limit = positive(name, v);
                case "--pubids" ->
                    pubids = Arrays.stream(v.split(","))
                            .map(String::trim)
                            .filter(s -> !s.isEmpty())
                            .toList();
                case "--data" -> data = Path.of(v);
                case "--contexts" -> {
                    contexts = v.toLowerCase(Locale.ROOT);
                    if (!List.of("with", "without", "both").contains(contexts)) {
                        throw new IllegalArgumentException("--contexts " + v + ": expected with, without or both");
                    }
                }
                case "--lora" -> {
                    int eq = v.indexOf('=');
                    Path dir = Path.of(eq > 0 ? v.substring(eq + 1) : v);
                    loras.add(new String[] {
                        eq > 0
                                ? v.substring(0, eq)
                                : dir.toAbsolutePath().normalize().getFileName().toString(),
                        dir.toString()
                    });
                }
                case "--spec" -> spec = Path.of(v);
                case "--quantize" -> quantize = Quantization.parse(v);
                case "--precision" -> precision = ModelSpec.precision(v);
                case "--device" -> device = v;
                case "--bootstrap" -> bootstrap = Integer.parseInt(v);
                case "--seed" -> seed = Long.parseLong(v);
                case "--batch-size" -> batchSize = positive(name, v);
                case "--max-new-tokens" -> maxNewTokens = positive(name, v);
                default -> throw new IllegalArgumentException("unknown option " + name);
            }
        }

        private static int positive(String name, String v) {
            try {
                int n = Integer.parseInt(v);
                if (n >= 1) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // falls through to the message below
            }
            throw new IllegalArgumentException(name + " " + v + ": expected a whole number >= 1");
        }

        ModelSpec modelSpec() {
            ModelSpec s = ModelSpec.of(model)
                    .withDevice(device)
                    .withPrecision(precision)
                    .withQuantization(quantize, 64, LmHead.COMPUTE);
            for (String[] l : loras) {
                s = s.withLora(l[0], l[1]);
            }
            return s;
        }

        /** The rows {@code medqa eval} makes of the same options. */
        List<Evaluation.Config> configs() {
            List<Evaluation.Config> configs = new ArrayList<>();
            if (spec != null) {
                configs = SpecFile.read(spec);
            } else if (mode == Evaluation.Mode.GENERATE) {
                configs =
                        Evaluation.notebookPreset(loras.stream().map(l -> l[0]).toList(), contexts, maxNewTokens, seed);
            } else {
                configs = Evaluation.likelihoodPreset(
                        loras.stream().map(l -> l[0]).toList(), contexts);
            }
            if (grid) {
                if (mode != Evaluation.Mode.GENERATE) {
                    throw new IllegalArgumentException("--grid applies to --mode generate (sampling settings)");
                }
                configs = Evaluation.withGrid(configs);
            }
            return configs;
        }

        SparkEvaluation evaluation(SparkSession spark) {
            Evaluation.Builder b = Evaluation.builder()
                    .configs(configs())
                    .mode(mode)
                    .split(split)
                    .pubids(pubids)
                    .limit(limit)
                    .bos(bos)
                    .out(out)
                    .bootstrap(bootstrap)
                    .seed(seed)
                    .batchSize(batchSize);
            if (data != null) {
                b.data(PubMedQaData.load(data));
            }
            SparkEvaluation e = SparkEvaluation.of(spark, modelSpec(), b);
            if (parts != null) {
                e.parts(parts);
            }
            if (partitions > 0) {
                e.partitions(partitions);
            }
            return e;
        }
    }
}
