#!/usr/bin/env python3
"""LoRA on a float16 base: transformers + PEFT logits for the three fixtures/lora adapters on model C
loaded in float16 (written for MedQA's LoRA tests; the fixtures' own goldens are float32).

PEFT keeps adapter weights in float32 (autocast_adapter_dtype=True) and computes the LoRA branch in
float32, casting the sum back to float16; MedQA does the same, so this is the yardstick for
MedQA's F16 + LoRA error.

  /tmp/ref/bin/python tools/make_lora_f16_golden.py medqa-core/src/test/resources/fixtures
"""
import json, os, sys
import torch, transformers, peft
from transformers import MistralForCausalLM
from peft import PeftModel

root = sys.argv[1]
lora = os.path.join(root, "lora")
prompt = json.load(open(os.path.join(lora, "golden.json")))["prompt"]
out = {"source": f"transformers {transformers.__version__}, peft {peft.__version__}, torch {torch.__version__}: "
                  "MistralForCausalLM.from_pretrained(mistral-swa/f16, dtype=float16, attn_implementation=eager) "
                  "+ PeftModel.from_pretrained(adapter), eval, CPU",
       "prompt": prompt, "adapters": {}}
for name in ["C-qv", "C-all", "C-rslora"]:
    base = MistralForCausalLM.from_pretrained(os.path.join(root, "mistral-swa", "f16"), dtype=torch.float16,
                                              attn_implementation="eager").eval()
    pm = PeftModel.from_pretrained(base, os.path.join(lora, name)).eval()
    a_dtype = next(p.dtype for n, p in pm.named_parameters() if "lora_A" in n)
    with torch.no_grad():
        logits = pm(torch.tensor([prompt])).logits[0].float()
    out["adapters"][name] = {"adapter_dtype": str(a_dtype),
                             "prompt_logits": [[str(x) for x in row.numpy().astype("float32")] for row in logits]}
    print(name, a_dtype, file=sys.stderr)
json.dump(out, open(os.path.join(lora, "golden_f16_peft.json"), "w"))
