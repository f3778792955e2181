"""Does Python's PEFT load an adapter that `medqa finetune` trained, and give the same numbers?

A manual cross-check (tests never run Python). Reproduce:

  # a small random Mistral-shaped model with the real tokenizer, and 16 prompt/completion pairs
  java -cp "$(ls medqa-examples/target/lib/*.jar | tr '\n' ':')medqa-examples/target/medqa.jar" ... RandomCheckpoint.write(...)
  java -jar medqa-examples/target/medqa.jar finetune --model model --data data.jsonl --out adapter \
      --batch 2 --max-len 32 --lr 5e-2 --max-steps 4 --targets q_proj,v_proj,down_proj
  /tmp/ref/bin/python tools/check_adapter_in_peft.py model adapter 1,1317,5565,28705,28740,5023,28804
  java -jar medqa-examples/target/medqa.jar generate --model model --lora adapter \
      --tokens 1,1317,5565,28705,28740,5023,28804 --max-new-tokens 12 --ids

Observed 2026-11-28 (transformers 5.18, peft 0.21, torch 2.13 CPU): PEFT's 12 greedy ids equal
MedQA's, and the prompt logits differ by at most 1.9e-6 (largest |logit| 5.2).

Also for a DPO adapter (2026-12-04): `medqa demo`'s random model, 8 pairs (prompt, chosen, rejected),
`medqa finetune --method dpo --batch 4 --max-len 64 --lr 5e-2 --max-steps 3 --targets q_proj,v_proj
--eval-fraction 0`, then this script on ids 1,733,28705,28740,5023,28804: PEFT's 12 greedy ids equal
MedQA's (10711 27951 10711 27951 10711 28695 24636 25327 10711 28695 8142 10711), and differ from the
base model's.
"""
import sys, json, torch
from transformers import MistralForCausalLM
from peft import PeftModel
base = MistralForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32, attn_implementation="eager").eval()
model = PeftModel.from_pretrained(base, sys.argv[2]).eval()
ids = [int(x) for x in sys.argv[3].split(",")]
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0]
    seq = list(ids); greedy = []
    for _ in range(12):
        nxt = int(torch.argmax(model(torch.tensor([seq])).logits[0, -1])); greedy.append(nxt); seq.append(nxt)
print(" ".join(map(str, greedy)))
json.dump([[float(v) for v in row] for row in logits], open("peft_logits.json", "w"))
