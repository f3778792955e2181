"""Golden logits for MedQA's packed-kernel formats (INT4, INT8): transformers' MistralForCausalLM run
on the same dequantized weights in float32 and in bfloat16.

MedQA's INT4 and INT8 products round activations to bfloat16 (PyTorch's packed kernels take them
so); the Java op-by-op path cannot hold bfloat16, so the reference is Python: for each fixture, the
projections are quantized by this file's restatement of MedQA's formats (Int4Weight, Int8Linear),
dequantized to float32, and the model is run in float32 (the exact product of those weights) and in
bfloat16 (how far a bf16 computation of them lands). The Java test holds MedQA's error against the
float32 run to the size of transformers' own bf16 error.

Also writes the codes, scales and zeros of one int4 matrix and one int8 matrix, which the Java
quantizers must reproduce exactly.

  /tmp/ref/bin/python tools/make_packed_golden.py medqa-core/src/test/resources/fixtures

With --long-prompt it writes golden_packed_long_transformers.json instead: one prompt of 160 tokens
(or the fixture's max_position_embeddings, 128 for llama-rc/B; mistral-swa's 64 is too few) per
fixture and format, long enough that MedQA multiplies its prefill with bfloat16 GEMMs on the
dequantized weights rather than the packed kernels (int4 from 128 rows on, int8 from 96); the
float32 logits of its last 8 positions and transformers' bfloat16 error on them. Format "bf16" is
the fixture's own weights (no quantization): the reference of an F32 model whose many-row products
run in bfloat16 (MedQA's --float32-matmul-precision medium).

With --tied-head it writes golden_tied_head_transformers.json: llama-rc/A (tied embeddings) in
float32 with lm_head untied and replaced by the int8 or int4 (group 64) dequantized embedding, the
embedding itself unchanged (MedQA's --lm-head int8|int4 on a tied model): float32 logits, and the
logits with the head's input and output rounded to bfloat16 as PyTorch's packed kernels round them.
"""
import json, sys, os
import torch
import transformers
from transformers import MistralForCausalLM

GROUP = 64


def bf16(t):
    return t.to(torch.bfloat16).to(torch.float32)


def int4(w, group=GROUP):
    """MedQA's Int4Weight.quantize: gpt-fast's qparams, rounded to bf16, codes from the rounded values."""
    out, inp = w.shape
    g = w.reshape(out, inp // group, group)
    mn = g.amin(-1)
    mx = g.amax(-1)
    scale = torch.clamp(mx - mn, min=1e-6) / 15
    zero = mn + scale * 8
    scale = bf16(scale)
    zero = bf16(zero)
    low = zero - scale * 8
    q = torch.clamp(torch.round((g - low[..., None]) / scale[..., None]), 0, 15)
    deq = ((q - 8) * scale[..., None] + zero[..., None]).reshape(out, inp)
    return q.reshape(out, inp).to(torch.int32), scale, zero, deq


def int8(w):
    """MedQA's Int8Weight.quantize: bf16 scale per row, codes clamped to [-127, 127]."""
    scale = bf16(w.abs().amax(1) / 127)
    q = torch.clamp(torch.round(w / scale[:, None]), -127, 127)
    return q.to(torch.int32), scale, q * scale[:, None]


def packable_int4(out, inp):
    return inp % GROUP == 0 and out % 16 == 0


def run(m, prompt, n):
    with torch.no_grad():
        logits = m(torch.tensor([prompt])).logits[0].float()
        seq = list(prompt)
        greedy = []
        for _ in range(n):
            nxt = int(torch.argmax(m(torch.tensor([seq])).logits[0, -1].float()))
            greedy.append(nxt)
            seq.append(nxt)
    return logits, greedy


def compare(m, golden, with_logits):
    """Per fixture prompt: float32 and bfloat16 runs of m; the float32 logits only if with_logits."""
    cases = []
    for case in golden["cases"]:
        prompt = case["prompt"]
        n = len(case["greedy"])
        f32_logits, f32_greedy = run(m, prompt, n)
        bf_logits, bf_greedy = run(m.to(torch.bfloat16), prompt, n)
        m.to(torch.float32)
        c = {"prompt": prompt}
        if with_logits:
            c["prompt_logits_f32"] = [[str(x) for x in row.numpy()] for row in f32_logits]
        c.update({"max_abs_bf16_vs_f32": float((bf_logits - f32_logits).abs().max()),
                  "greedy_f32": f32_greedy, "greedy_bf16": bf_greedy})
        cases.append(c)
    return cases


root = sys.argv[1]
if "--tied-head" in sys.argv:
    out = {"source": f"transformers {transformers.__version__}, torch {torch.__version__}, MistralForCausalLM "
                     "(attn_implementation=eager, CPU, float32), lm_head = dequantized copy of the embedding",
           "group_size": GROUP, "model": "llama-rc/A", "heads": {}}
    golden = json.load(open(os.path.join(root, "llama-rc/A", "golden.json")))
    prompt = golden["cases"][1]["prompt"]
    for fmt in ["int8", "int4"]:
        m = MistralForCausalLM.from_pretrained(os.path.join(root, "llama-rc/A", "f32"), dtype=torch.float32,
                                               attn_implementation="eager").eval()
        emb = m.model.embed_tokens.weight.data.clone()
        deq = int8(emb)[2] if fmt == "int8" else int4(emb)[3]
        m.lm_head.weight = torch.nn.Parameter(deq.clone())
        assert m.lm_head.weight.data_ptr() != m.model.embed_tokens.weight.data_ptr()
        with torch.no_grad():
            hidden = m.model(torch.tensor([prompt])).last_hidden_state[0]
            logits = m.lm_head(hidden).float()
            rounded = bf16(bf16(hidden) @ deq.t())
        out["heads"][fmt] = {"prompt": prompt, "prompt_logits_f32": [[str(x) for x in r.numpy()] for r in logits],
                             "prompt_logits_bf16_head_io": [[str(x) for x in r.numpy()] for r in rounded]}
    path = os.path.join(root, "golden_tied_head_transformers.json")
    json.dump(out, open(path, "w"))
    print("wrote", path, os.path.getsize(path), "bytes")
    sys.exit(0)
if "--long-prompt" in sys.argv:
    LONG, LAST = 160, 8
    out = {"source": f"transformers {transformers.__version__}, torch {torch.__version__}, MistralForCausalLM "
                     "(attn_implementation=eager, CPU) on dequantized projections, float32 and bfloat16",
           "group_size": GROUP, "last_positions": LAST, "models": {}}
    for model_dir in ["llama-rc/A", "llama-rc/B"]:
        out["models"][model_dir] = {}
        for fmt in ["int4", "int8", "bf16"]:
            m = MistralForCausalLM.from_pretrained(os.path.join(root, model_dir, "f32"), dtype=torch.float32,
                                                   attn_implementation="eager").eval()
            gen = torch.Generator().manual_seed(160)
            n = min(LONG, m.config.max_position_embeddings)
            prompt = [1] + torch.randint(3, m.config.vocab_size, (n - 1,), generator=gen).tolist()
            for layer in m.model.layers:
                for name in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                             "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]:
                    lin = layer.get_submodule(name)
                    if fmt == "bf16" or (fmt == "int4" and not packable_int4(*lin.weight.shape)):
                        continue
                    lin.weight.data = (int4(lin.weight.data)[3] if fmt == "int4" else int8(lin.weight.data)[2]).clone()
            with torch.no_grad():
                f32 = m(torch.tensor([prompt])).logits[0, -LAST:].float()
                bf = m.to(torch.bfloat16)(torch.tensor([prompt])).logits[0, -LAST:].float()
            out["models"][model_dir][fmt] = {"prompt": prompt,
                                             "last_logits_f32": [[str(x) for x in row.numpy()] for row in f32],
                                             "max_abs_bf16_vs_f32": float((bf - f32).abs().max())}
            print(model_dir, fmt, round(float((bf - f32).abs().max()), 3))
    path = os.path.join(root, "golden_packed_long_transformers.json")
    json.dump(out, open(path, "w"))
    print("wrote", path, os.path.getsize(path), "bytes")
    sys.exit(0)
out = {"source": f"transformers {transformers.__version__}, torch {torch.__version__}, MistralForCausalLM "
                 "(attn_implementation=eager, CPU) on dequantized projections, float32 and bfloat16",
       "group_size": GROUP, "models": {}}
projections = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
for model_dir in ["llama-rc/A", "llama-rc/B", "mistral-swa"]:
    golden = json.load(open(os.path.join(root, model_dir, "golden.json")))
    out["models"][model_dir] = {}
    for fmt in ["int4", "int8"]:
        m = MistralForCausalLM.from_pretrained(os.path.join(root, model_dir, "f32"), dtype=torch.float32,
                                               attn_implementation="eager").eval()
        quantized = 0
        for layer in m.model.layers:
            for name in projections:
                lin = layer.get_submodule(name)
                w = lin.weight.data
                if fmt == "int4":
                    if not packable_int4(*w.shape):
                        continue
                    deq = int4(w)[3]
                else:
                    deq = int8(w)[2]
                lin.weight.data = deq.clone()
                quantized += 1
        cases = compare(m, golden, with_logits=True)
        out["models"][model_dir][fmt] = {"quantized_projections": quantized, "cases": cases}
        print(model_dir, fmt, quantized, "projections;", [round(c["max_abs_bf16_vs_f32"], 3) for c in cases])

torch.manual_seed(0)
w = torch.randn(32, 128) * torch.linspace(0.01, 3, 128)
q, s, z, _ = int4(w)
q8, s8, _ = int8(w)
out["matrix"] = {"shape": [32, 128], "w": [str(x) for x in w.flatten().numpy()],
                 "int4_q": q.flatten().tolist(), "int4_scales": [str(x) for x in s.flatten().numpy()],
                 "int4_zeros": [str(x) for x in z.flatten().numpy()],
                 "int8_q": q8.flatten().tolist(), "int8_scales": [str(x) for x in s8.numpy()]}
path = os.path.join(root, "golden_packed_transformers.json")
json.dump(out, open(path, "w"))
print("wrote", path, os.path.getsize(path), "bytes")

# bf16 (MedQA's Precision.BF16): the original weights; the float32 reference is the fixtures' own
# golden.json, and transformers' bf16 error on them sizes the tolerance.
out_bf16 = {}
for model_dir in ["llama-rc/A", "llama-rc/B", "mistral-swa"]:
    golden = json.load(open(os.path.join(root, model_dir, "golden.json")))
    m = MistralForCausalLM.from_pretrained(os.path.join(root, model_dir, "f32"), dtype=torch.float32,
                                           attn_implementation="eager").eval()
    cases = compare(m, golden, with_logits=False)
    out_bf16[model_dir] = cases
    print(model_dir, "bf16", [round(c["max_abs_bf16_vs_f32"], 3) for c in cases])
for model_dir, cases in out_bf16.items():
    out["models"][model_dir]["bf16"] = {"quantized_projections": 0, "cases": cases}
json.dump(out, open(path, "w"))
print("wrote", path, os.path.getsize(path), "bytes")
