"""GGUF model references for MedQA's GGUF loading (medqa-core GgufModelTest).

1. A small random Llama/Mistral-shaped model (1 layer, dim 256, 4/2 heads, ffn 512, vocab 256) is
   written as an F32 GGUF the way llama.cpp's convert_hf_to_gguf.py writes Mistral: architecture
   "llama", its tensor names, and q/k rows permuted for llama.cpp's RoPE (the converter's
   LlamaModel.permute, restated), plus minimal SentencePiece-style tokenizer metadata.
2. llama.cpp's own llama-quantize makes Q8_0, Q4_0 and Q4_K_M files from it.
3. transformers loads each file itself (from_pretrained(gguf_file=...), which dequantizes with the
   gguf package and undoes the permutation on its own) and its float32 logits for a fixed prompt
   are saved: gguf_logits.safetensors, tensors "<file stem>" of shape [8, 256].

Usage: /tmp/ref/bin/python tools/make_gguf_model_golden.py OUT_DIR /path/to/llama-quantize
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import gguf
from safetensors.numpy import save_file
from transformers import AutoModelForCausalLM

out = Path(sys.argv[1])
quantize = sys.argv[2]
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)
dim, heads, kv, ffn, vocab, layers = 256, 4, 2, 512, 256, 1


def permute(w, n_head, n_head_kv):
    # convert_hf_to_gguf.py LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape))


def rand(*shape, scale=0.08):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


hd = dim // heads
f32 = out / "tiny-F32.gguf"
w = gguf.GGUFWriter(str(f32), arch="llama")
w.add_name("tiny random mistral")
w.add_context_length(512)
w.add_embedding_length(dim)
w.add_block_count(layers)
w.add_feed_forward_length(ffn)
w.add_head_count(heads)
w.add_head_count_kv(kv)
w.add_rope_freq_base(10000.0)
w.add_layer_norm_rms_eps(1e-5)
w.add_file_type(gguf.LlamaFileType.ALL_F32)
w.add_vocab_size(vocab)
w.add_tokenizer_model("llama")
w.add_token_list(["<unk>", "<s>", "</s>"] + [f"<0x{i - 3:02X}>" if i < 259 else f"t{i}" for i in range(3, vocab)])
w.add_token_scores([0.0] * vocab)
w.add_token_types([2, 3, 3] + [6] * (vocab - 3))
w.add_bos_token_id(1)
w.add_eos_token_id(2)
w.add_tensor("token_embd.weight", rand(vocab, dim, scale=0.5))
for i in range(layers):
    w.add_tensor(f"blk.{i}.attn_norm.weight", (1 + rand(dim, scale=0.1)))
    w.add_tensor(f"blk.{i}.attn_q.weight", permute(rand(heads * hd, dim), heads, heads))
    w.add_tensor(f"blk.{i}.attn_k.weight", permute(rand(kv * hd, dim), heads, kv))
    w.add_tensor(f"blk.{i}.attn_v.weight", rand(kv * hd, dim))
    w.add_tensor(f"blk.{i}.attn_output.weight", rand(dim, heads * hd))
    w.add_tensor(f"blk.{i}.ffn_norm.weight", (1 + rand(dim, scale=0.1)))
    w.add_tensor(f"blk.{i}.ffn_gate.weight", rand(ffn, dim))
    w.add_tensor(f"blk.{i}.ffn_up.weight", rand(ffn, dim))
    w.add_tensor(f"blk.{i}.ffn_down.weight", rand(dim, ffn))
w.add_tensor("output_norm.weight", (1 + rand(dim, scale=0.1)))
w.add_tensor("output.weight", rand(vocab, dim, scale=0.3))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

files = [f32]
for kind in ["Q8_0", "Q4_0", "Q4_K_M"]:
    target = out / f"tiny-{kind}.gguf"
    subprocess.run([quantize, "--allow-requantize", str(f32), str(target), kind], check=True, capture_output=True)
    files.append(target)

prompt = torch.tensor([[1, 50, 77, 3, 200, 128, 9, 255]])
logits = {}
for f in files:
    model = AutoModelForCausalLM.from_pretrained(str(out), gguf_file=f.name, torch_dtype=torch.float32)
    with torch.no_grad():
        logits[f.stem] = model(prompt).logits[0].numpy().astype(np.float32)
    types = {t.tensor_type.name for t in gguf.GGUFReader(str(f)).tensors}
    print(f.name, f.stat().st_size, "bytes, types", sorted(types), "greedy", logits[f.stem].argmax(-1).tolist())
save_file(logits, str(out / "gguf_logits.safetensors"))
