"""Golden values for MedQA's DPO loss: TRL's DPOTrainer (sigmoid loss) on a PEFT LoRA adapter over the
fixture model llama-rc/A (vocab 512, tied embeddings), one batch of 4 preference examples given as
token ids. The trainer gets the base model and a peft_config (a new adapter), so its reference is
the base with the adapter disabled (given a PeftModel instead, TRL 1.13 freezes a copy of that
adapter as the reference). lora_B is then drawn non-zero (PEFT initialises it to zero, where the
policy equals the reference, the loss is log 2 and A's gradients vanish) and the adapter is saved in
PEFT's format, so the Java test starts from exactly these weights. Records the loss, TRL's logged rewards, the per-example
log-probabilities and the LoRA gradients after loss.backward().

  /tmp/ref/bin/python tools/make_dpo_golden.py medqa-core/src/test/resources/fixtures/llama-rc/A/f32 \
      ../shared/data/mistral-7b-instruct-v0.1 medqa-finetune/src/test/resources/dpo

(The tokenizer is only what DPOTrainer's constructor needs; the batch is built from the ids below.)
"""
import json, os, sys, tempfile
import torch
import transformers, peft, trl
from datasets import Dataset
from peft import LoraConfig, get_peft_model
from transformers import AutoTokenizer, MistralForCausalLM
from trl import DPOConfig, DPOTrainer
from trl.trainer.dpo_trainer import DataCollatorForPreference

model_dir, tokenizer_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
BETA = 0.1
torch.manual_seed(0)
base = MistralForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")

gen = torch.Generator().manual_seed(11)
def ids(n):
    return torch.randint(3, 512, (n,), generator=gen).tolist()
examples = []
for prompt_len, chosen_len, rejected_len in [(5, 3, 4), (3, 5, 2), (6, 2, 2), (4, 4, 6)]:
    examples.append({"prompt_ids": [1] + ids(prompt_len - 1), "chosen_ids": ids(chosen_len - 1) + [2],
                     "rejected_ids": ids(rejected_len - 1) + [2]})

tok = AutoTokenizer.from_pretrained(tokenizer_dir)
with tempfile.TemporaryDirectory() as tmp:
    args = DPOConfig(output_dir=tmp, beta=BETA, per_device_train_batch_size=4, report_to=[], max_length=None,
                     gradient_checkpointing=False, use_cpu=True, bf16=False, fp16=False)
    trainer = DPOTrainer(model=base, args=args, processing_class=tok, peft_config=config,
                         train_dataset=Dataset.from_list([{"prompt": "a", "chosen": "b", "rejected": "c"}]))
    model = trainer.model
    assert "ref" not in model.peft_config
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    model.save_pretrained(os.path.join(out, "adapter"))
    batch = DataCollatorForPreference(pad_token_id=tok.pad_token_id or tok.eos_token_id)(examples)
    model.train()
    model.zero_grad()
    loss = trainer._compute_loss(model, batch, return_outputs=False)
    loss.backward()
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items() if v}

grads = {}
for name, p in model.named_parameters():
    if p.grad is not None:
        # base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight -> PEFT's saved key
        key = name.replace(".default", "")
        grads[key] = {"shape": list(p.grad.shape), "values": [float(x) for x in p.grad.flatten()]}
golden = {"source": f"trl {trl.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
                    f"torch {torch.__version__}; DPOTrainer._compute_loss (sigmoid), reference = adapter disabled",
          "beta": BETA, "examples": examples, "pad_token_id": tok.pad_token_id or tok.eos_token_id,
          "loss": float(loss), "rewards_chosen_mean": metrics.get("rewards/chosen"),
          "rewards_rejected_mean": metrics.get("rewards/rejected"), "metrics": metrics, "grads": grads}
with open(os.path.join(out, "dpo_golden.json"), "w") as f:
    json.dump(golden, f)
print("loss", float(loss), {k: metrics[k] for k in metrics if "reward" in k or "logps" in k})
