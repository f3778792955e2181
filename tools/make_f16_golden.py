"""Golden logits for F16 compute: transformers' MistralForCausalLM run in float16 on CPU.

Independent reference for MedQA's F16 forward pass (the fixtures' llama2.c / numpy goldens are
float32). For each fixture prompt: logits of every prompt position (the model run once over the
prompt) and a greedy continuation in float16, recomputing the whole sequence each step.

  /tmp/ref/bin/python tools/make_f16_golden.py medqa-core/src/test/resources/fixtures
"""
import json, sys, os
import torch
import transformers
from transformers import MistralForCausalLM

root = sys.argv[1]
out = {"source": f"transformers {transformers.__version__}, torch {torch.__version__}, "
                 "MistralForCausalLM.from_pretrained(dir, dtype=float16), attn_implementation=eager, CPU",
       "models": {}}
for model_dir, storage in [("llama-rc/A", "f16"), ("llama-rc/B", "f16"), ("mistral-swa", "f16")]:
    golden = json.load(open(os.path.join(root, model_dir, "golden.json")))
    m = MistralForCausalLM.from_pretrained(os.path.join(root, model_dir, storage), dtype=torch.float16,
                                           attn_implementation="eager").eval()
    cases = []
    for case in golden["cases"]:
        prompt = case["prompt"]
        n = len(case["greedy"])
        with torch.no_grad():
            logits = m(torch.tensor([prompt])).logits[0].float()
            seq = list(prompt)
            greedy = []
            for _ in range(n):
                nxt = int(torch.argmax(m(torch.tensor([seq])).logits[0, -1].float()))
                greedy.append(nxt)
                seq.append(nxt)
        cases.append({"prompt": prompt,
                      "prompt_logits": [[str(x) for x in row.numpy().astype("float32")] for row in logits],
                      "greedy": greedy})
    out["models"][model_dir] = cases
json.dump(out, open(os.path.join(root, "golden_f16_transformers.json"), "w"))
print("wrote", os.path.join(root, "golden_f16_transformers.json"))
