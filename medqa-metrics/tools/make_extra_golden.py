#!/usr/bin/env python3
"""Extra golden values for medqa-metrics' tests, beyond shared/golden (written for this project).

Reference implementations: nltk 3.8 (Debian python3-nltk, appended to sys.path), sacrebleu 2.x,
scikit-learn, scipy, numpy (legacy np.random), and rouge-score's scoring.BootstrapAggregator
imported from --rouge-path (google-research rouge/scoring.py, not shipped here).

usage (from medqa-metrics/):
  python3 -m venv /tmp/refm && /tmp/refm/bin/pip install sacrebleu scikit-learn scipy 'numpy<2' six
  /tmp/refm/bin/python tools/make_extra_golden.py --golden src/test/resources/golden \
      --pqal src/test/resources/pubmedqa/ori_pqal.json --split src/main/resources/ai/medqa/metrics/pubmedqa/test_ground_truth.json \
      --rouge-path ROUGE_DIR --out src/test/resources/golden/extra
Inputs are the shared golden pairs (candidate/reference strings and their rouge-score values).
"""
import argparse
import json
import math
import os
import re
import sys
import warnings

sys.path.append("/usr/lib/python3/dist-packages")  # Debian's nltk 3.8, after the venv's packages
import nltk  # noqa: E402
from nltk.stem.porter import PorterStemmer  # noqa: E402
from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu, sentence_bleu  # noqa: E402
import numpy as np  # noqa: E402
import sacrebleu  # noqa: E402
import scipy.stats  # noqa: E402
import sklearn  # noqa: E402
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score  # noqa: E402

assert nltk.__version__ == "3.8", nltk.__version__
warnings.filterwarnings("ignore")
SF = SmoothingFunction()
METHODS = [getattr(SF, "method%d" % i) for i in range(8)]


def jl(path):
    return [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]


def bleu_all(refs, hyp, weights):
    out = {}
    for i, f in enumerate(METHODS):
        try:
            out["bleu_m%d" % i] = float(sentence_bleu(refs, hyp, weights=weights, smoothing_function=f))
        except (AssertionError, ZeroDivisionError, IndexError) as e:
            out["bleu_m%d" % i] = None  # nltk raises; the Java port must raise too
    return out


def corpus_all(refs, hyps, weights=(0.25,) * 4):
    out = {}
    for i, f in enumerate(METHODS):
        try:
            out["corpus_bleu_m%d" % i] = float(corpus_bleu(refs, hyps, weights=weights, smoothing_function=f))
        except (AssertionError, ZeroDivisionError, IndexError):
            out["corpus_bleu_m%d" % i] = None
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", required=True)
    ap.add_argument("--pqal", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--rouge-path", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.rouge_path)
    from rouge import scoring  # noqa: E402
    os.makedirs(a.out, exist_ok=True)
    shared = jl(os.path.join(a.golden, "metrics_pubmedqa_shared.jsonl"))
    edge = jl(os.path.join(a.golden, "metrics_edge_cases.jsonl"))
    tok = lambda s: s.lower().split()

    # 1. nltk sentence BLEU, all 8 smoothing methods, single/multi reference, other weights.
    rows = []
    for r in shared[:120] + edge:
        rows.append({"candidate": r["candidate"], "references": [r["reference"]], "weights": [0.25] * 4})
    for i in range(0, 120, 2):
        rows.append({"candidate": shared[i]["candidate"],
                     "references": [shared[i]["reference"], shared[i + 1]["reference"], shared[i + 1]["candidate"]],
                     "weights": [0.25] * 4})
    for r in shared[200:240]:
        rows.append({"candidate": r["candidate"], "references": [r["reference"]], "weights": [0.5, 0.5]})
    for r in shared[240:280]:
        rows.append({"candidate": r["candidate"], "references": [r["reference"]], "weights": [1 / 3] * 3})
    for r in edge:
        rows.append({"candidate": r["candidate"], "references": [r["reference"], r["candidate"] + " extra words here"],
                     "weights": [0.1, 0.2, 0.3, 0.2, 0.2]})
    with open(os.path.join(a.out, "nltk_bleu_sentence.jsonl"), "w", encoding="utf-8") as f:
        for row in rows:
            row.update(bleu_all([tok(x) for x in row["references"]], tok(row["candidate"]), tuple(row["weights"])))
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    # 2. nltk corpus BLEU, all methods, on the 500 shared pairs and on multi-reference lists.
    refs1 = [[tok(r["reference"])] for r in shared]
    hyps = [tok(r["candidate"]) for r in shared]
    refs3 = [[tok(shared[i]["reference"]), tok(shared[(i + 1) % len(shared)]["reference"])] for i in range(len(shared))]
    corpus = {"single_reference": corpus_all(refs1, hyps), "two_references": corpus_all(refs3, hyps),
              "weights_half": corpus_all(refs1, hyps, (0.5, 0.5)),
              "two_references_note": "references of pair i: reference i and reference (i+1) mod 500"}

    # 3. sacreBLEU defaults (13a, exp smoothing): corpus and sentence.
    cands = [r["candidate"] for r in shared]
    stream1 = [r["reference"] for r in shared]
    stream2 = [shared[(i + 1) % len(shared)]["reference"] for i in range(len(shared))]
    corpus["sacrebleu_corpus_single"] = sacrebleu.corpus_bleu(cands, [stream1]).score
    corpus["sacrebleu_corpus_two"] = sacrebleu.corpus_bleu(cands, [stream1, stream2]).score
    corpus["sacrebleu_version"] = sacrebleu.__version__
    with open(os.path.join(a.out, "bleu_corpus.json"), "w", encoding="utf-8") as f:
        json.dump(corpus, f, indent=1)
    tok13a = sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a()
    with open(os.path.join(a.out, "sacrebleu_sentence.jsonl"), "w", encoding="utf-8") as f:
        for r in shared[:150] + edge:
            f.write(json.dumps({"candidate": r["candidate"], "reference": r["reference"],
                                "tokens_13a": tok13a(r["candidate"].rstrip()),
                                "sentence_bleu": sacrebleu.sentence_bleu(r["candidate"], [r["reference"]]).score},
                               ensure_ascii=False) + "\n")

    # 4. rouge-score BootstrapAggregator after np.random.seed(seed), on the shared rows' scores.
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    boot = {}
    for seed, n in ((42, 500), (0, 37)):
        np.random.seed(seed)
        agg = scoring.BootstrapAggregator()
        for r in shared[:n]:
            agg.add_scores({t: scoring.Score(r[t + "_p"], r[t + "_r"], r[t + "_f"]) for t in types})
        res = agg.aggregate()
        boot["seed%d_n%d" % (seed, n)] = {t: {k: list(map(float, getattr(res[t], k))) for k in ("low", "mid", "high")}
                                          for t in types}
    # The report's Summary: mean, std (ddof=1), 95% bootstrap of the mean, 1000 resamples, np.random.seed(7).
    x = np.array([r["squad_f1"] for r in shared])
    np.random.seed(7)
    means = [np.mean(x[np.random.choice(np.arange(len(x)), size=len(x))]) for _ in range(1000)]
    boot["summary_squad_f1_seed7"] = {"n": len(x), "mean": float(np.mean(x)), "std": float(np.std(x, ddof=1)),
                                      "ci_low": float(np.percentile(means, 2.5)),
                                      "ci_high": float(np.percentile(means, 97.5))}
    np.random.seed(42)
    boot["randint_seed42_high500"] = [int(v) for v in np.random.randint(0, 500, size=20)]
    np.random.seed(123)
    boot["randint_seed123_high1"] = [int(v) for v in np.random.randint(0, 1, size=3)]
    boot["randint_seed123_then_high3"] = [int(v) for v in np.random.randint(0, 3, size=20)]
    boot["numpy_version"] = np.__version__
    with open(os.path.join(a.out, "bootstrap.json"), "w", encoding="utf-8") as f:
        json.dump(boot, f, indent=1)

    # 5. scipy correlations between metric columns (real ties in F1 and ROUGE columns).
    corr = []
    for xa, ya in (("bleu_m1", "rouge1_f"), ("squad_f1", "rougeL_f_stem"), ("set_f1", "bleu_m0"),
                   ("rouge2_f", "bleu_m4")):
        xs = [r[xa] for r in shared]
        ys = [r[ya] for r in shared]
        corr.append({"x": xa, "y": ya, "pearson": float(scipy.stats.pearsonr(xs, ys)[0]),
                     "spearman": float(scipy.stats.spearmanr(xs, ys)[0])})
    corr.append({"x_values": [1, 2, 2, 3, 5, 5, 5, 8], "y_values": [2, 1, 4, 3, 7, 7, 6, 9],
                 "pearson": float(scipy.stats.pearsonr([1, 2, 2, 3, 5, 5, 5, 8], [2, 1, 4, 3, 7, 7, 6, 9])[0]),
                 "spearman": float(scipy.stats.spearmanr([1, 2, 2, 3, 5, 5, 5, 8], [2, 1, 4, 3, 7, 7, 6, 9])[0])})
    with open(os.path.join(a.out, "correlation.json"), "w", encoding="utf-8") as f:
        json.dump({"scipy_version": scipy.__version__, "cases": corr}, f, indent=1)

    # 6. scikit-learn accuracy / macro-F1 / confusion matrix as PubMedQA's evaluation.py uses them.
    split = json.load(open(a.split, encoding="utf-8"))
    pmids = sorted(split, key=int)
    truth = [split[p] for p in pmids]
    rng = np.random.RandomState(2024)
    labels3 = ["yes", "no", "maybe"]
    cases = {"majority_yes": ["yes"] * len(truth),
             "random": [labels3[i] for i in rng.randint(0, 3, size=len(truth))],
             "noisy_truth": [t if rng.rand() < 0.7 else labels3[rng.randint(0, 3)] for t in truth],
             "with_unknown": [t if rng.rand() < 0.6 else ("unknown" if rng.rand() < 0.5 else "no") for t in truth],
             "never_maybe": [t if t != "maybe" else "yes" for t in truth]}
    cls = {"sklearn_version": sklearn.__version__, "pmids": pmids, "truth": truth, "cases": {}}
    for name, pred in cases.items():
        labs = sorted(set(truth) | set(pred))
        cls["cases"][name] = {"pred": pred, "accuracy": float(accuracy_score(truth, pred)),
                              "macro_f1": float(f1_score(truth, pred, average="macro")),
                              "labels_sorted": labs,
                              "confusion": confusion_matrix(truth, pred, labels=labs).tolist()}
    with open(os.path.join(a.out, "classification.json"), "w", encoding="utf-8") as f:
        json.dump(cls, f)

    # 7. nltk PorterStemmer on every distinct word of the PubMedQA questions and long answers.
    pq = json.load(open(a.pqal, encoding="utf-8"))
    words = set()
    for v in pq.values():
        words.update(re.findall(r"[a-z0-9]+", (v["QUESTION"] + " " + v["LONG_ANSWER"]).lower()))
    words.update(["sky", "skies", "dying", "lying", "news", "innings", "proceed", "generalizations", "oscillators",
                  "hopefulli", "analogi", "conditional", "rational", "valency", "hesitanci", "digitizer",
                  "conformabli", "radicalli", "differentli", "vileli", "analogousli", "vietnamization",
                  "predication", "operator", "feudalism", "decisiveness", "hopefulness", "callousness",
                  "formaliti", "sensitiviti", "sensibiliti", "ties", "cried", "tied", "feed", "agreed", "plastered",
                  "motoring", "sing", "conflated", "troubled", "sized", "hopping", "tanned", "falling", "hissing",
                  "fizzed", "failing", "filing", "happy", "sky", "by", "say", "controll", "roll", "ys", "yy"])
    st = PorterStemmer()
    with open(os.path.join(a.out, "porter_nltk38.tsv"), "w", encoding="utf-8") as f:
        for w in sorted(words):
            f.write("%s\t%s\n" % (w, st.stem(w)))
    print("rows", len(rows), "words", len(words), file=sys.stderr)


if __name__ == "__main__":
    main()
