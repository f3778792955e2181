package ai.medqa.examples.cli;

import ai.medqa.io.GgufFile;
import ai.medqa.model.GgufModel;
import ai.medqa.model.MistralConfig;
import ai.medqa.model.OllamaModels;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code medqa inspect x.gguf}: what a GGUF file holds, and whether MedQA can run it. */
@Command(
        name = "inspect",
        mixinStandardHelpOptions = true,
        description = {
            "Print a GGUF file's metadata (long arrays summarised), its tensor types and the model MedQA reads "
                    + "from it; exit 1 with the reason when MedQA cannot run it.",
            "FILE may be ollama:NAME[:TAG]."
        })
final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "FILE", description = "a .gguf file, or ollama:NAME[:TAG]")
    String file;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    PrintStream out = System.out;

    @Override
    public Integer call() {
        Path path;
        try {
            path = OllamaModels.isOllama(file) ? OllamaModels.resolve(file) : Path.of(file);
        } catch (RuntimeException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        if (!GgufFile.isGguf(path)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "FILE " + file + ": not a GGUF file");
        }
        try (GgufFile f = GgufFile.open(path)) {
            out.println(path + ": GGUF v" + f.version() + ", " + f.metadata().size() + " metadata, "
                    + f.tensors().size() + " tensors");
            for (Map.Entry<String, Object> e : f.metadata().entrySet()) {
                Object v = e.getValue();
                String shown = v instanceof List<?> l
                        ? (l.size() <= 8 ? l.toString() : "[" + l.size() + " items: " + l.subList(0, 4) + " ...]")
                        : v instanceof String s && s.length() > 200
                                ? s.substring(0, 200).replace("\n", "\\n") + "... (" + s.length() + " chars)"
                                : String.valueOf(v);
                out.println("  " + e.getKey() + " = " + shown);
            }
            Map<String, long[]> types = new TreeMap<>();
            for (GgufFile.Tensor t : f.tensors().values()) {
                long[] c = types.computeIfAbsent(t.type().toString(), k -> new long[2]);
                c[0]++;
                c[1] += t.count();
            }
            types.forEach((type, c) -> out.printf("  tensors %s: %d (%,d values)%n", type, c[0], c[1]));
            try {
                MistralConfig c = GgufModel.config(f);
                out.printf(
                        "MedQA runs it as: %d layers, hidden %d, ffn %d, heads %d/%d (head dim %d), vocab %d, context %d, "
                                + "rope base %.0f, rms eps %g%s%n",
                        c.numHiddenLayers(),
                        c.hiddenSize(),
                        c.intermediateSize(),
                        c.numAttentionHeads(),
                        c.numKeyValueHeads(),
                        c.headDim(),
                        c.vocabSize(),
                        c.maxPositionEmbeddings(),
                        c.ropeTheta(),
                        c.rmsNormEps(),
                        c.tieWordEmbeddings() ? ", tied embeddings" : "");
                GgufModel.checkpoint(f, c).names(); // every tensor has its place
                return 0;
            } catch (RuntimeException e) {
                out.println("MedQA cannot run it: " + e.getMessage());
                return 1;
            }
        }
    }
}
