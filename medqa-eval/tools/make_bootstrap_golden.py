"""Golden percentile-bootstrap intervals for MedQA's evaluation summary: numpy's legacy MT19937
seeded with `seed`, each resample `np.random.choice(n, n)`, accuracy and macro-F1 by scikit-learn,
then np.percentile(.., [2.5, 97.5]) (linear interpolation).

  /tmp/ref/bin/pip install scikit-learn numpy; /tmp/ref/bin/python medqa-eval/tools/make_bootstrap_golden.py medqa-eval/src/test/resources/golden
"""
import json, os, sys
import numpy as np
from sklearn.metrics import accuracy_score, f1_score

labels = ["yes", "no", "maybe"]
rng = np.random.RandomState(7)
truth = [labels[i] for i in rng.choice(3, 60, p=[0.55, 0.34, 0.11])]
pred = [t if rng.rand() < 0.6 else labels[rng.randint(3)] for t in truth]
out = {"truth": truth, "prediction": pred, "accuracy": accuracy_score(truth, pred),
       "macro_f1": f1_score(truth, pred, average="macro"), "cases": []}
for seed, resamples in [(0, 1000), (42, 200)]:
    np.random.seed(seed)
    acc, f1 = [], []
    n = len(truth)
    for _ in range(resamples):
        idx = np.random.choice(n, n)
        t = [truth[i] for i in idx]
        p = [pred[i] for i in idx]
        acc.append(accuracy_score(t, p))
        f1.append(f1_score(t, p, average="macro"))
    out["cases"].append({"seed": seed, "resamples": resamples,
                         "accuracy_ci95": list(np.percentile(acc, [2.5, 97.5])),
                         "macro_f1_ci95": list(np.percentile(f1, [2.5, 97.5]))})
json.dump(out, open(os.path.join(sys.argv[1], "bootstrap_golden.json"), "w"), indent=1)
print(out["accuracy"], out["macro_f1"], out["cases"])
