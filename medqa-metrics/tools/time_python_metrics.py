#!/usr/bin/env python3
"""Times nltk 3.8 sentence_bleu and rouge-score on the same 1,000 PubMedQA pairs as the JMH
LexicalMetricsBenchmark (candidate = last sentence of the last CONTEXTS paragraph, reference =
LONG_ANSWER), and checks the rouge copy against the golden file first.

usage: /tmp/refm/bin/python tools/time_python_metrics.py --pqal src/test/resources/pubmedqa/ori_pqal.json \
           --golden src/test/resources/golden/metrics_pubmedqa_shared.jsonl --rouge-path ROUGE_DIR
"""
import argparse
import json
import re
import sys
import time
import warnings

sys.path.append("/usr/lib/python3/dist-packages")
import nltk  # noqa: E402
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu  # noqa: E402

warnings.filterwarnings("ignore")


def last_sentence(paragraph):
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", paragraph.strip()) if p.strip()]
    return parts[-1] if parts else ""


def best_of(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pqal", required=True)
    ap.add_argument("--golden", required=True)
    ap.add_argument("--rouge-path", required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.rouge_path)
    from rouge import rouge_scorer  # noqa: E402
    pq = json.load(open(a.pqal, encoding="utf-8"))
    pairs = [(last_sentence(pq[p]["CONTEXTS"][-1]), pq[p]["LONG_ANSWER"]) for p in sorted(pq, key=int)]
    assert len(pairs) == 1000
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    plain = rouge_scorer.RougeScorer(types, use_stemmer=False)
    stem = rouge_scorer.RougeScorer(types, use_stemmer=True)
    for line in open(a.golden, encoding="utf-8"):  # the copy must reproduce the golden values
        g = json.loads(line)
        s = stem.score(g["reference"], g["candidate"])
        assert all(s[t].fmeasure == g[t + "_f_stem"] for t in types), g["pmid"]
    m1 = SmoothingFunction().method1
    toks = [(c.lower().split(), r.lower().split()) for c, r in pairs]
    res = {
        "nltk_sentence_bleu_m1_with_lower_split": best_of(
            lambda: [sentence_bleu([r.lower().split()], c.lower().split(), smoothing_function=m1) for c, r in pairs]),
        "nltk_sentence_bleu_m1_pretokenized": best_of(
            lambda: [sentence_bleu([r], c, smoothing_function=m1) for c, r in toks]),
        "rouge_score_4types": best_of(lambda: [plain.score(r, c) for c, r in pairs]),
        "rouge_score_4types_stemmer": best_of(lambda: [stem.score(r, c) for c, r in pairs]),
    }
    print("python", sys.version.split()[0], "nltk", nltk.__version__)
    for k, v in res.items():
        print("%-42s %8.3f s / 1000 pairs  = %9.0f pairs/s" % (k, v, 1000 / v))


if __name__ == "__main__":
    main()
