"""A random Mistral-7B-shaped checkpoint for speed and memory measurements (never committed: ~14.5 GB).

32 layers, hidden 4096, intermediate 14336, 32 query / 8 key-value heads, vocab 32,000, untied,
weights normal(0, 0.02) in bfloat16 (as Mistral ships), norms 1, Hugging Face names, 3 safetensors
shards with an index, Mistral's tokenizer files copied in. The same weights feed llama.cpp
(convert_hf_to_gguf.py) for the side-by-side runs of ../shared/notes/side-by-side.md.

  /tmp/ref/bin/python tools/make_7b_checkpoint.py OUT_DIR ../shared/data/mistral-7b-v0.1
"""
import json, os, shutil, sys
import torch
from safetensors.torch import save_file

out, tok = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
hidden, inter, layers, heads, kv, vocab, hd = 4096, 14336, 32, 32, 8, 32000, 128
cfg = {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": hidden,
       "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": heads,
       "num_key_value_heads": kv, "head_dim": hd, "vocab_size": vocab, "tie_word_embeddings": False,
       "max_position_embeddings": 32768, "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "sliding_window": 4096,
       "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
gen = torch.Generator().manual_seed(7)
w = lambda *s: (torch.randn(*s, generator=gen) * 0.02).to(torch.bfloat16)
ones = lambda n: torch.ones(n, dtype=torch.bfloat16)
shards = [list(range(0, 11)), list(range(11, 22)), list(range(22, 32))]
index = {"metadata": {"total_size": 0}, "weight_map": {}}
for s, ls in enumerate(shards):
    t = {}
    if s == 0:
        t["model.embed_tokens.weight"] = w(vocab, hidden)
    for i in ls:
        p = f"model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = w(heads * hd, hidden)
        t[p + "self_attn.k_proj.weight"] = w(kv * hd, hidden)
        t[p + "self_attn.v_proj.weight"] = w(kv * hd, hidden)
        t[p + "self_attn.o_proj.weight"] = w(hidden, heads * hd)
        t[p + "mlp.gate_proj.weight"] = w(inter, hidden)
        t[p + "mlp.up_proj.weight"] = w(inter, hidden)
        t[p + "mlp.down_proj.weight"] = w(hidden, inter)
        t[p + "input_layernorm.weight"] = ones(hidden)
        t[p + "post_attention_layernorm.weight"] = ones(hidden)
    if s == len(shards) - 1:
        t["model.norm.weight"] = ones(hidden)
        t["lm_head.weight"] = w(vocab, hidden)
    name = f"model-{s + 1:05d}-of-{len(shards):05d}.safetensors"
    save_file(t, os.path.join(out, name), metadata={"format": "pt"})
    for k, v in t.items():
        index["weight_map"][k] = name
        index["metadata"]["total_size"] += v.numel() * 2
    print("wrote", name, flush=True)
json.dump(index, open(os.path.join(out, "model.safetensors.index.json"), "w"), indent=2)
for f in ["tokenizer.json", "tokenizer_config.json", "tokenizer.model"]:
    if os.path.exists(os.path.join(tok, f)):
        shutil.copy(os.path.join(tok, f), out)
