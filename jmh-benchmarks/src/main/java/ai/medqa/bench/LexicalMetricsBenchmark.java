package ai.medqa.bench;

import ai.medqa.metrics.lexical.NltkBleu;
import ai.medqa.metrics.lexical.PyText;
import ai.medqa.metrics.lexical.Rouge;
import ai.medqa.metrics.pubmedqa.PubMedQaLoader;
import ai.medqa.metrics.pubmedqa.PubMedQaPairs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * BLEU and ROUGE over the 1,000 PubMedQA long answers (candidate = last sentence of the last context
 * paragraph, as in the golden file). Scores are pairs per second: each invocation scores all 1,000.
 *
 * <p>{@code java -jar jmh-benchmarks/target/benchmarks.jar LexicalMetrics -f 1 -wi 2 -i 3}
 * (from the repository root; {@code -p pqal=PATH} for another copy of ori_pqal.json).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
@OperationsPerInvocation(1000)
public class LexicalMetricsBenchmark {
    @Param("medqa-metrics/src/test/resources/pubmedqa/ori_pqal.json")
    public String pqal;

    private List<String> candidates;
    private List<String> references;
    private List<List<String>> candTokens;
    private List<List<String>> refTokens;
    private final NltkBleu bleu = new NltkBleu(NltkBleu.Smoothing.METHOD1);
    private final Rouge rouge = Rouge.standard(false);
    private final Rouge rougeStem = Rouge.standard(true);

    @Setup
    public void load() {
        Path p = Path.of(System.getProperty("medqa.pqal", pqal));
        if (!Files.exists(p)) {
            throw new IllegalStateException("ori_pqal.json not found at " + p.toAbsolutePath()
                    + "; run from the repository root or pass -p pqal=PATH");
        }
        List<PubMedQaPairs.Pair> pairs = PubMedQaPairs.lastSentenceBaseline(PubMedQaLoader.loadOriPqal(p));
        if (pairs.size() != 1000) {
            throw new IllegalStateException("expected 1000 pairs, got " + pairs.size());
        }
        candidates = new ArrayList<>();
        references = new ArrayList<>();
        candTokens = new ArrayList<>();
        refTokens = new ArrayList<>();
        for (PubMedQaPairs.Pair pair : pairs) {
            candidates.add(pair.candidate());
            references.add(pair.reference());
            candTokens.add(PyText.lowerSplit(pair.candidate()));
            refTokens.add(PyText.lowerSplit(pair.reference()));
        }
    }

    /** nltk sentence_bleu (method1) including lower().split() tokenisation, as the golden file. */
    @Benchmark
    public void bleuSentence(Blackhole bh) {
        for (int i = 0; i < 1000; i++) {
            bh.consume(bleu.sentence(candidates.get(i), List.of(references.get(i))));
        }
    }

    /** nltk sentence_bleu on pre-tokenised text (what timing nltk's function alone measures). */
    @Benchmark
    public void bleuSentencePretokenized(Blackhole bh) {
        for (int i = 0; i < 1000; i++) {
            bh.consume(bleu.sentence(List.of(refTokens.get(i)), candTokens.get(i)));
        }
    }

    /** rouge-score RougeScorer(['rouge1','rouge2','rougeL','rougeLsum']).score(ref, cand). */
    @Benchmark
    public void rouge(Blackhole bh) {
        for (int i = 0; i < 1000; i++) {
            bh.consume(rouge.score(references.get(i), candidates.get(i)));
        }
    }

    /** The same with use_stemmer=True. */
    @Benchmark
    public void rougeStemmed(Blackhole bh) {
        for (int i = 0; i < 1000; i++) {
            bh.consume(rougeStem.score(references.get(i), candidates.get(i)));
        }
    }
}
