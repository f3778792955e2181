"""Golden values for MedQA's KTO loss: TRL's KTOTrainer (loss_type "kto", with its KL estimate) on a new
PEFT LoRA adapter over the fixture model llama-rc/A (vocab 512, tied), one batch of 4 examples given as
token ids (2 desirable, 2 undesirable), the reference being the base with the adapter disabled. As in
make_dpo_golden.py, lora_B is drawn non-zero after the trainer made the adapter (a seed whose KL estimate is positive,
so the KL term is exercised; it is clamped at 0 otherwise), and the adapter is
saved. The KL term pairs each prompt with the previous example's completion within the batch (TRL's
rotation; TRL 1.13 requires sequential sampling for it). Records the loss, the KL estimate, rewards
and the LoRA gradients after loss.backward().

  /tmp/ref/bin/python tools/make_kto_golden.py medqa-core/src/test/resources/fixtures/llama-rc/A/f32 \
      ../shared/data/mistral-7b-instruct-v0.1 medqa-finetune/src/test/resources/kto
"""
import json, os, sys, tempfile
import torch
import transformers, peft, trl
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoTokenizer, MistralForCausalLM
from trl import KTOConfig, KTOTrainer

model_dir, tokenizer_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
BETA = 0.1
torch.manual_seed(0)
base = MistralForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
tok = AutoTokenizer.from_pretrained(tokenizer_dir)

gen = torch.Generator().manual_seed(13)
def ids(n):
    return torch.randint(3, 512, (n,), generator=gen).tolist()
examples = []
for prompt_len, completion_len, label in [(5, 3, True), (3, 5, False), (6, 2, True), (4, 4, False)]:
    examples.append({"prompt_ids": [1] + ids(prompt_len - 1), "completion_ids": ids(completion_len - 1) + [2],
                     "label": label})
rows = []
for i, e in enumerate(examples):
    kl = examples[i - 1]["completion_ids"]  # TRL's rotation within the batch: (x_i, y_{i-1}), (x_1, y_n)
    rows.append(dict(e, KL_completion_ids=kl))

with tempfile.TemporaryDirectory() as tmp:
    args = KTOConfig(output_dir=tmp, beta=BETA, per_device_train_batch_size=4, report_to=[], max_length=None,
                     use_cpu=True, bf16=False, fp16=False, train_sampling_strategy="sequential")
    trainer = KTOTrainer(model=base, args=args, processing_class=tok, peft_config=config,
                         train_dataset=Dataset.from_list([{"prompt": "a", "completion": "b", "label": True},
                                                           {"prompt": "c", "completion": "d", "label": False}]))
    model = trainer.model
    assert "ref" not in model.peft_config
    g = torch.Generator().manual_seed(int(os.environ.get("B_SEED", "1")))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    model.save_pretrained(os.path.join(out, "adapter"))
    batch = trainer.data_collator(rows)
    model.train()
    model.zero_grad()
    loss = trainer._compute_loss(model, batch, return_outputs=False)
    loss.backward()
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items() if v}

grads = {}
for name, p in model.named_parameters():
    if p.grad is not None:
        grads[name.replace(".default", "")] = {"shape": list(p.grad.shape), "values": [float(x) for x in p.grad.flatten()]}
golden = {"source": f"trl {trl.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
                    f"torch {torch.__version__}; KTOTrainer._compute_loss (kto, with KL), reference = adapter disabled",
          "beta": BETA, "desirable_weight": 1.0, "undesirable_weight": 1.0, "examples": examples,
          "pad_token_id": tok.pad_token_id or tok.eos_token_id, "loss": float(loss), "metrics": metrics, "grads": grads}
with open(os.path.join(out, "kto_golden.json"), "w") as f:
    json.dump(golden, f)
print("loss", float(loss), metrics)
