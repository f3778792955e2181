"""A PEFT LoRA adapter on a GGUF base, for medqa-core GgufModelTest.

transformers loads the GGUF files of make_gguf_model_golden.py itself (from_pretrained(gguf_file=...):
its own dequantization and un-permutation of q/k), PEFT puts a rank-4 adapter with random A and B
(init_lora_weights=False, seed 3) on all seven projections of that model, the adapter is saved in
PEFT's format (lora-tiny/) and the float32 logits of the adapted model for the fixed prompt are
saved: gguf_lora_logits.safetensors, tensors "<file stem>" of shape [8, 256].

Usage: /tmp/ref/bin/python tools/make_gguf_lora_golden.py medqa-core/src/test/resources/gguf
"""
import sys
from pathlib import Path

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from safetensors.numpy import save_file
from transformers import AutoModelForCausalLM

d = Path(sys.argv[1])
prompt = torch.tensor([[1, 50, 77, 3, 200, 128, 9, 255]])
config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights=False, task_type="CAUSAL_LM",
                    target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
logits = {}
adapter = None
for stem in ["tiny-Q4_0", "tiny-Q4_K_M", "tiny-Q8_0"]:
    base = AutoModelForCausalLM.from_pretrained(str(d), gguf_file=f"{stem}.gguf", torch_dtype=torch.float32)
    torch.manual_seed(3)
    model = get_peft_model(base, config)  # the same seed: the same adapter on every base
    if adapter is None:
        model.save_pretrained(str(d / "lora-tiny"))
        adapter = {k: v.clone() for k, v in model.state_dict().items() if "lora_" in k}
    else:
        for k, v in model.state_dict().items():
            if "lora_" in k:
                assert torch.equal(v, adapter[k]), k
    model.eval()
    with torch.no_grad():
        logits[stem] = model(prompt).logits[0].numpy().astype(np.float32)
        with model.disable_adapter():
            plain = model(prompt).logits[0].numpy()
    print(stem, "greedy with adapter", logits[stem].argmax(-1).tolist(), "max |adapter effect|",
          float(np.abs(logits[stem] - plain).max()))
save_file(logits, str(d / "gguf_lora_logits.safetensors"))
