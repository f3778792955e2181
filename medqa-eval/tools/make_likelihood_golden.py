"""Golden PubMedQA log-likelihoods from transformers, scored the way lm-evaluation-harness's `pubmedqa`
task scores them, for MedQA's likelihood mode.

A small random Mistral (tied embeddings, Mistral's real 32,000-token tokenizer) is written beside the
golden; for the first 24 questions of the official test split: context
"Abstract: " + contexts joined by "\n" + "\nQuestion: " + question + "\nAnswer:", choices " yes", " no",
" maybe"; the harness's pair encoding (whole = encode(context + choice), ctx = encode(context),
continuation = whole[len(ctx):], the model reads ctx + continuation); the summed log-probability of the
continuation; with and without special tokens (BOS).

  /tmp/ref/bin/python medqa-eval/tools/make_likelihood_golden.py /work/shared/data/pubmedqa \
      medqa-core/src/test/resources/tokenizer medqa-eval/src/test/resources/golden
"""
import json, os, sys
import torch
import transformers
from transformers import AutoTokenizer, MistralConfig, MistralForCausalLM

data_dir, tok_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
torch.manual_seed(1234)
config = MistralConfig(vocab_size=32000, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                       sliding_window=None, tie_word_embeddings=True, initializer_range=0.3,
                       rms_norm_eps=1e-5, rope_theta=10000.0, bos_token_id=1, eos_token_id=2)
model = MistralForCausalLM(config).eval()
model_dir = os.path.join(out, "tiny-mistral")
os.makedirs(model_dir, exist_ok=True)
model.to(torch.float16).save_pretrained(model_dir, safe_serialization=True)
model = MistralForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
# As MedQA and transformers' AutoTokenizer load Mistral's files (tokenizer.json + the Instruct
# tokenizer_config.json: LlamaTokenizerFast, legacy behaviour).
import shutil, tempfile
tok_folder = tempfile.mkdtemp()
shutil.copy(os.path.join(tok_dir, "mistral-7b-v0.1", "tokenizer.json"), tok_folder)
shutil.copy(os.path.join(tok_dir, "mistral-7b-instruct-v0.1", "tokenizer_config.json"), tok_folder)
tok = AutoTokenizer.from_pretrained(tok_folder)

data = json.load(open(os.path.join(data_dir, "ori_pqal.json")))
test = json.load(open(os.path.join(data_dir, "test_ground_truth.json")))
pmids = [p for p in data if p in test][:24]
cases = []
min_margin = 1e9
for bos in [True, False]:
    for pmid in pmids:
        item = data[pmid]
        context = "Abstract: " + "\n".join(item["CONTEXTS"]) + "\nQuestion: " + item["QUESTION"] + "\nAnswer:"
        lls = {}
        for label in ["yes", "no", "maybe"]:
            cont = " " + label
            whole = tok.encode(context + cont, add_special_tokens=bos)
            ctx = tok.encode(context, add_special_tokens=bos)
            cont_ids = whole[len(ctx):]
            ids = torch.tensor([ctx + cont_ids])
            with torch.no_grad():
                logp = torch.log_softmax(model(ids).logits[0].float(), -1)
            ll = sum(float(logp[len(ctx) - 1 + i, t]) for i, t in enumerate(cont_ids))
            lls[label] = ll
        ranked = sorted(lls.values(), reverse=True)
        min_margin = min(min_margin, ranked[0] - ranked[1])
        cases.append({"pubid": pmid, "bos": bos, "context_tokens": len(ctx), "loglikelihood": lls,
                      "prediction": max(lls, key=lls.get)})
json.dump({"source": f"transformers {transformers.__version__}, torch {torch.__version__}, float32, eager; "
                     f"lm-evaluation-harness pubmedqa scoring; tokenizer {type(tok).__name__}", "cases": cases},
          open(os.path.join(out, "likelihood_golden.json"), "w"), indent=1)
print(len(cases), "cases; smallest top-2 margin", min_margin)
