package ai.medqa.examples.cli;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.medqa.finetune.FineTune;
import ai.medqa.finetune.FineTuneResult;
import ai.medqa.finetune.PromptTemplate;
import ai.medqa.finetune.Schedule;
import ai.medqa.finetune.TrainStepCheck;
import ai.medqa.lora.LoraConfig;
import ai.medqa.model.PyTorchThreads;
import ai.medqa.quant.Quantization;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code medqa finetune}: LoRA (QLoRA with an NF4 base) fine-tuning on PubMedQA or prompt/completion
 * pairs, writing a PEFT adapter; {@code --train-step-check DIR} runs the PyTorch golden step instead.
 */
@Command(
        name = "finetune",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "LoRA fine-tuning of a Mistral model; writes a PEFT adapter (adapter_config.json,"
                    + " adapter_model.safetensors), loss.csv, loss.png and resumable checkpoints to --out.",
            "PubMedQA's official test split is left out of the data unless --include-test-split is given."
        })
public final class FinetuneCommand implements Callable<Integer> {

    @Option(names = "--model", description = "Hugging Face model folder (config.json, safetensors, tokenizer.json).")
    Path model;

    @Option(
            names = "--data",
            description = "PubMedQA ori_pqal.json or .jsonl, or .jsonl of {\"prompt\", \"completion\"}.")
    Path data;

    @Option(names = "--out", description = "Output folder for the adapter, curves and checkpoints.")
    Path out;

    @Option(
            names = "--gradient-checkpointing",
            description =
                    "Recompute each layer in backward: memory for one layer's activations (and dequantized NF4 weights) instead of all.")
    boolean gradientCheckpointing;

    @Option(
            names = "--quantize",
            description =
                    "Base weight format: nf4 (QLoRA), int8 or none (default: dense --precision); int4 is refused (no gradient).")
    String quantize;

    @Option(names = "--r", defaultValue = "8", description = "LoRA rank (default ${DEFAULT-VALUE}).")
    int r;

    @Option(
            names = "--alpha",
            defaultValue = "16",
            description = "LoRA alpha; scaling = alpha / r (default ${DEFAULT-VALUE}).")
    double alpha;

    @Option(names = "--dropout", defaultValue = "0.05", description = "LoRA dropout (default ${DEFAULT-VALUE}).")
    double dropout;

    @Option(
            names = "--targets",
            split = ",",
            defaultValue = "q_proj,v_proj",
            description = "Projections to adapt (default ${DEFAULT-VALUE}).")
    List<String> targets;

    @Option(names = "--epochs", defaultValue = "1", description = "Passes over the data (default ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--lr", defaultValue = "2e-4", description = "Peak learning rate (default ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--batch", defaultValue = "4", description = "Examples per micro-batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(
            names = "--grad-accum",
            defaultValue = "4",
            description = "Micro-batches per optimizer step (default ${DEFAULT-VALUE}).")
    int gradAccum;

    @Option(
            names = "--max-len",
            defaultValue = "512",
            description = "Tokens per example; longer ones are truncated"
                    + " (contexts first, answer last) and counted (default ${DEFAULT-VALUE}).")
    int maxLen;

    @Option(
            names = "--method",
            defaultValue = "sft",
            paramLabel = "sft|dpo|kto",
            description =
                    "sft (default): learn the completions of --data; dpo: learn from preference pairs (prompt, chosen, "
                            + "rejected; medqa feedback export --format dpo), as TRL's DPOTrainer; kto: from liked and disliked "
                            + "answers (prompt, completion, label; --format kto), as TRL's KTOTrainer. Both against the base model.")
    String method;

    @Option(
            names = "--beta",
            defaultValue = "0.1",
            description = "DPO's and KTO's beta (default ${DEFAULT-VALUE}, TRL's).")
    double beta;

    @Option(
            names = "--desirable-weight",
            defaultValue = "1.0",
            description = "KTO's weight of liked answers (default ${DEFAULT-VALUE}).")
    double desirableWeight;

    @Option(
            names = "--undesirable-weight",
            defaultValue = "1.0",
            description = "KTO's weight of disliked answers (default ${DEFAULT-VALUE}).")
    double undesirableWeight;

    @Option(
            names = "--init-adapter",
            paramLabel = "DIR",
            description =
                    "Start from this PEFT adapter (its rank, alpha and targets) instead of a new one; with dpo/kto it is "
                            + "also the reference, frozen, as TRL does for a model with an adapter.")
    Path initAdapter;

    @Option(names = "--resume", description = "Continue from the latest checkpoint in --out.")
    boolean resume;

    @Option(
            names = "--template",
            description = "instruction, chat or raw, optionally +contexts (default: instruction"
                    + " for PubMedQA, raw for pairs).")
    String template;

    @Option(
            names = "--schedule",
            defaultValue = "LINEAR",
            description = "LINEAR, COSINE or CONSTANT after warm-up (default ${DEFAULT-VALUE}).")
    Schedule schedule;

    @Option(
            names = "--warmup-ratio",
            defaultValue = "0.03",
            description = "Warm-up as a fraction of the steps (default ${DEFAULT-VALUE}).")
    double warmupRatio;

    @Option(
            names = "--weight-decay",
            defaultValue = "0",
            description = "AdamW decoupled weight decay (default ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(
            names = "--max-grad-norm",
            defaultValue = "1.0",
            description = "Clip the global gradient norm; 0 = off (default ${DEFAULT-VALUE}).")
    double maxGradNorm;

    @Option(
            names = "--seed",
            defaultValue = "42",
            description = "Seed of initialisation, data order, split, dropout (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(
            names = "--eval-every",
            defaultValue = "50",
            description = "Held-out loss every N steps (default ${DEFAULT-VALUE}).")
    int evalEvery;

    @Option(
            names = "--eval-fraction",
            defaultValue = "0.1",
            description = "Data held out for evaluation (default ${DEFAULT-VALUE}).")
    double evalFraction;

    @Option(
            names = "--early-stop",
            defaultValue = "0",
            description = "Stop after N evaluations without improvement; 0 = off.")
    int earlyStop;

    @Option(
            names = "--save-every",
            defaultValue = "50",
            description = "Checkpoint every N steps (default ${DEFAULT-VALUE}).")
    int saveEvery;

    @Option(
            names = "--max-steps",
            defaultValue = "-1",
            description = "Stop after N optimizer steps (default: all epochs).")
    long maxSteps;

    @Option(
            names = "--include-test-split",
            description = "Also train on PubMedQA's official test questions (spoils PubMedQA scores).")
    boolean includeTestSplit;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda or cuda:N (default ${DEFAULT-VALUE}).")
    String device;

    @Option(
            names = "--precision",
            defaultValue = "F32",
            description = "Dense base compute type: F32 or F16 (default ${DEFAULT-VALUE}).")
    String precision;

    @Option(
            names = "--threads",
            defaultValue = "0",
            paramLabel = "N",
            description =
                    "PyTorch threads (default: one per physical core; fewer on a machine with other busy processes).")
    int threads;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--train-step-check",
            paramLabel = "DIR",
            description = "Run only the golden step of"
                    + " DIR/lora/train_step_golden.json on model C (DIR/mistral-swa/f32) and print the loss and the errors"
                    + " against PyTorch + PEFT; exit 0 if all are within 1e-4 relative.")
    Path trainStepCheck;

    PrintStream out2 = System.out;
    PrintStream err = System.err;

    @Override
    public Integer call() {
        if (trainStepCheck != null) {
            TrainStepCheck.Result res = TrainStepCheck.run(trainStepCheck);
            out2.printf(Locale.ROOT, "loss %.8f%n", res.loss());
            err.println(res);
            boolean ok = res.within(1e-4);
            err.println(ok ? "OK: within 1e-4 relative of PyTorch + PEFT" : "MISMATCH: beyond 1e-4 relative");
            return ok ? 0 : 1;
        }
        if (model == null || data == null || out == null) {
            err.println("medqa finetune: --model, --data and --out are required (or --train-step-check DIR)");
            return 2;
        }
        String refused = FineTune.outputProblem(out, model, resume);
        if (refused != null) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(), "--out " + refused.replace("or resume it", "or resume it with --resume"));
        }
        if (ModelOptions.threadCount(threads, spec) > 0) {
            PyTorchThreads.set(threads);
        }
        FineTune.Method m;
        try {
            m = FineTune.Method.parse(method);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(), "--method " + method + ": expected sft, dpo or kto");
        }
        if (m != FineTune.Method.SFT && !(beta > 0)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--beta " + beta + ": expected > 0");
        }
        if (!(desirableWeight > 0) || !(undesirableWeight > 0)) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(), "--desirable-weight and " + "--undesirable-weight must be > 0");
        }
        if (m != FineTune.Method.SFT && gradientCheckpointing) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(), "--gradient-checkpointing is not available with --method " + method + " yet");
        }
        if (initAdapter != null && !Files.isRegularFile(initAdapter.resolve("adapter_config.json"))) {
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(),
                    "--init-adapter " + initAdapter + ": no adapter_config.json (a PEFT adapter folder is expected)");
        }
        FineTune.Builder b = FineTune.builder()
                .method(m)
                .beta(beta)
                .ktoWeights(desirableWeight, undesirableWeight)
                .model(model)
                .device(device(device))
                .computeType(dataType(precision))
                .data(data)
                .output(out)
                .lora(LoraConfig.of(r, alpha, dropout, targets))
                .epochs(epochs)
                .maxSteps(maxSteps)
                .learningRate(lr)
                .batchSize(batch)
                .gradientAccumulation(gradAccum)
                .maxLength(maxLen)
                .schedule(schedule)
                .warmupRatio(warmupRatio)
                .weightDecay(weightDecay)
                .maxGradNorm(maxGradNorm)
                .seed(seed)
                .evalEvery(evalEvery)
                .evalFraction(evalFraction)
                .earlyStop(earlyStop, 0.0)
                .saveEvery(saveEvery)
                .resume(resume)
                .includeOfficialTestSplit(includeTestSplit)
                .gradientCheckpointing(gradientCheckpointing);
        if (initAdapter != null) {
            b.initAdapter(initAdapter);
        }
        if (quantize != null && Quantization.parse(quantize) == Quantization.INT4) {
            // PyTorch's packed int4 kernels have no backward: refuse before loading anything.
            throw new IllegalArgumentException("--quantize int4 cannot train adapters (the packed int4 kernels have no "
                    + "gradient); use --quantize nf4 (QLoRA) or int8, then serve the adapter on an int4 base");
        }
        if (quantize != null) {
            // QLoRA: the frozen base in NF4 (or INT8); gradients reach the adapters through it.
            b.baseLinears(Quantization.parse(quantize).linears());
        }
        if (template != null) {
            b.template(PromptTemplate.parse(template));
        }
        Medqa.onInterrupt("rerun the same command with --resume to continue from the last checkpoint in " + out
                + " (written every --save-every steps)");
        FineTuneResult res = b.build().run();
        out2.printf(
                Locale.ROOT,
                "adapter %s%nsteps %d  train-loss %.4f  eval-loss %.4f (before %.4f, best %.4f)%s"
                        + "  %.0f tokens/s  %.1f s%n",
                res.adapterDir(),
                res.steps(),
                res.trainLoss(),
                res.evalLoss(),
                res.initialEvalLoss(),
                res.bestEvalLoss(),
                res.stoppedEarly() ? "  stopped early" : "",
                res.tokensPerSecond(),
                res.seconds());
        err.println("training data: " + res.train());
        return 0;
    }

    static Device device(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        if (n.equals("cpu")) {
            return Device.cpu();
        }
        if (n.matches("(cuda|gpu)(:\\d+)?")) {
            return Device.gpu(n.contains(":") ? Integer.parseInt(n.substring(n.indexOf(':') + 1)) : 0);
        }
        throw new IllegalArgumentException("device \"" + name + "\": expected cpu, cuda or cuda:N");
    }

    static DataType dataType(String precision) {
        return switch (precision.trim().toUpperCase(Locale.ROOT)) {
            case "F32" -> DataType.FLOAT32;
            case "F16" -> DataType.FLOAT16;
            default -> throw new IllegalArgumentException("precision " + precision + ": expected F32 or F16");
        };
    }
}
