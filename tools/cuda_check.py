"""CUDA proof kit (issue 19): MedQA's own decoder step on a device, against transformers on the same device.

Runs the exact TorchScript source the Java library runs (medqa-core/.../decoder_step.py, packed into a
TorchScript archive byte for byte as TorchScript.archive writes it) on a random Mistral-shaped model,
with the projections held as MedQA holds them: float32 (kind 0), bfloat16 (kind 4), MedQA's INT4
(group 64, kind 1, packed by the script's own pack_int4 for the device), INT8 (per-row, kind 2) and
NF4 (bitsandbytes' layout, kind 3), quantized exactly as Int4Weight.quantize / Int8Weight.quantize /
Nf4.quantize do, each also with a LoRA adapter on all seven projections (PEFT on transformers' side).
For each format it checks

  - logits of a 16-token prompt against transformers' MistralForCausalLM holding the same (dequantized)
    weights in float32 on the same device: float32 within 1e-4 of the largest logit; the bfloat16-product
    formats within 2x the error of transformers' own bfloat16 run of those weights (or 1e-3 of the
    largest logit, whichever is larger) -- the bound the CPU fidelity tests use;
  - 32 greedy tokens (the step with its KV cache against transformers' generate): equal, or parting
    only where transformers' own top-two margin is within twice the logit bound;

and times decode at batch 1, 8 and 32 and a 400-token prefill, with the peak device memory. For scale
it also times transformers' own bfloat16 generate at batch 1. It writes cuda_check.json and
cuda_check.md under --out and exits 1 if a fidelity check fails. --break int4 packs the int4 codes
wrong on purpose, to show that the check fails.

On CUDA it also replays a batch-1 decode step captured in a CUDA graph, to state what graphs would
add (Java cannot use them through TorchScript). Not covered: NF4 with double quantization, several
adapters per batch. This proves the script's CUDA branches and kernels, not that Java (DJL) loads
them on CUDA.

Usage: python tools/cuda_check.py --device cuda --preset 7b --out DIR
       python tools/cuda_check.py --device cpu --preset tiny --out DIR   (the check of the kit itself)
"""
import argparse
import io
import json
import math
import os
import sys
import time
import zipfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "medqa-core/src/main/resources/ai/medqa/model/internal/decoder_step.py"
PRESETS = {
    "tiny": dict(hidden=256, ffn=512, layers=2, heads=4, kv=2, vocab=4096, context=1024),
    "7b": dict(hidden=4096, ffn=14336, layers=32, heads=32, kv=8, vocab=32000, context=4096),
}
KIND = {"f32": 0, "int4": 1, "int8": 2, "nf4": 3, "bf16": 4}
# bitsandbytes' NF4 code values (get_4bit_type("nf4")), as Nf4.java holds them.
NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0]
LORA_RANK, LORA_ALPHA = 4, 8
PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def load_step(device):
    """The archive TorchScript.archive writes (class DecoderStep), loaded as torch.jit.load does it."""
    data_pkl = (b"\x80\x02c__torch__\nDecoderStep\nq\x00)\x81}(X\x08\x00\x00\x00trainingq\x01\x89"
                b"X\x16\x00\x00\x00_is_full_backward_hookq\x02Nubq\x03.")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/code/__torch__.py", SOURCE.read_bytes())
        z.writestr("archive/constants.pkl", b"\x80\x02).")
        z.writestr("archive/version", b"3\n")
        z.writestr("archive/byteorder", b"little")
    return torch.jit.load(io.BytesIO(buf.getvalue()), map_location=device)


def bf16(t):
    return t.to(torch.bfloat16).to(torch.float32)


def quantize_int4(w, group):
    """Int4Weight.quantize: per group of `group` inputs, scale and zero rounded to bfloat16."""
    out, inp = w.shape
    g = w.reshape(out, inp // group, group)
    lo, hi = g.amin(-1), g.amax(-1)
    scale = torch.clamp(hi - lo, min=1e-6) / 15.0
    zero = bf16(lo + scale * 8.0)
    scale = bf16(scale)
    low = zero - scale * 8.0
    q = torch.clamp(torch.round((g - low.unsqueeze(-1)) / scale.unsqueeze(-1)), 0, 15)
    deq = ((q - 8) * scale.unsqueeze(-1) + zero.unsqueeze(-1)).reshape(out, inp)
    return q.reshape(out, inp).to(torch.int32), scale, zero, deq


def quantize_int8(w):
    """Int8Weight.quantize: one bfloat16 scale per row (absmax / 127), codes rounded half to even."""
    s = bf16(w.abs().amax(-1) / 127.0)
    q = torch.clamp(torch.round(w / s.unsqueeze(-1)), -127, 127)
    return q.to(torch.int8), s, q * s.unsqueeze(-1)


def quantize_nf4(w):
    """Nf4.quantize without double quantization: blocks of 64 of the flattened weight, codes of x / absmax
    (times the reciprocal, as the kernels do) to the nearest NF4 value, two codes a byte, high nibble first."""
    code = torch.tensor(NF4, device=w.device)
    flat = w.reshape(-1, 64)
    absmax = flat.abs().amax(-1)
    x = flat * (1.0 / absmax).unsqueeze(-1)
    q = torch.bucketize(x, (code[1:] + code[:-1]) / 2).reshape(-1)
    packed = (q[0::2] << 4 | q[1::2]).to(torch.uint8)
    b = torch.arange(256, device=w.device)
    pairs = torch.stack([code[b >> 4], code[b & 15]], -1)
    return packed, pairs, absmax, (code[q].reshape(-1, 64) * absmax.unsqueeze(-1)).reshape(w.shape)


class Model:
    """Random weights of a Mistral shape, and each format's form of them."""

    def __init__(self, p, device, seed=0):
        self.p = p
        self.device = device
        g = torch.Generator(device=device).manual_seed(seed)  # on the device: 7B of random numbers in seconds
        h, f = p["hidden"], p["ffn"]
        self.head_dim = h // p["heads"]
        kvd = p["kv"] * self.head_dim

        def rnd(*shape, std):
            return torch.randn(*shape, generator=g, device=device) * std

        self.embed = rnd(p["vocab"], h, std=1.0)
        self.layers = []
        for _ in range(p["layers"]):
            shapes = [(h, h), (kvd, h), (kvd, h), (h, h), (f, h), (f, h), (h, f)]
            self.layers.append({
                "norm1": 1 + rnd(h, std=0.1), "norm2": 1 + rnd(h, std=0.1),
                "w": [rnd(o, i, std=1 / math.sqrt(i)) for o, i in shapes]})
        self.norm = 1 + rnd(h, std=0.1)
        self.head = rnd(p["vocab"], h, std=1 / math.sqrt(h))
        # One LoRA adapter on all seven projections (random A and B, so that it changes the answer).
        self.lora = [[(rnd(LORA_RANK, w.shape[1], std=1 / math.sqrt(w.shape[1])), rnd(w.shape[0], LORA_RANK, std=0.05))
                      for w in layer["w"]] for layer in self.layers]

    def projections(self, fmt, step, broken=False, want_dense=True):
        """kinds, params, weights for the step, and the float32 weights they stand for (None for each when
        not wanted: a 7B model's float32 copy is 29 GB)."""
        kinds, params, weights, dense = [], [], [], []
        for layer in self.layers:
            for w in layer["w"]:
                if fmt == "f32":
                    kinds.append(0); params.append(0); weights.append([w]); dense.append(w if want_dense else None)
                elif fmt == "bf16":
                    kinds.append(4); params.append(0); weights.append([w.to(torch.bfloat16)]); dense.append(bf16(w) if want_dense else None)
                elif fmt == "int4":
                    q, scale, zero, deq = quantize_int4(w, 64)
                    if broken:  # a packing error: codes of neighbouring rows swapped
                        q = q.reshape(-1, 2, q.shape[1]).flip(1).reshape(q.shape)
                    packed = step.pack_int4(q.contiguous())
                    sz = torch.stack([scale, zero], -1).transpose(0, 1).contiguous().to(torch.bfloat16)
                    kinds.append(1); params.append(64); weights.append([packed, sz]); dense.append(deq if want_dense else None)
                elif fmt == "int8":
                    q, s, deq = quantize_int8(w)
                    kinds.append(2); params.append(0); weights.append([q, s.to(torch.bfloat16)]); dense.append(deq if want_dense else None)
                elif fmt == "nf4":
                    packed, pairs, absmax, deq = quantize_nf4(w)
                    kinds.append(3); params.append(w.shape[0]); weights.append([packed, pairs, absmax]); dense.append(deq if want_dense else None)
        kinds.append(0); params.append(0); weights.append([self.head]); dense.append(self.head if want_dense else None)
        return kinds, params, weights, dense


class Stepper:
    """MedQA's fused step over a KV cache, as DecoderStep.java calls it."""

    def __init__(self, step, model, fmt, batch, capacity, broken=False, lora=False, want_dense=True):
        self.step, self.m, self.batch, self.capacity = step, model, batch, capacity
        p = model.p
        self.kinds, self.params, self.weights, self.dense = model.projections(fmt, step, broken, want_dense)
        d = model.head_dim
        dev = model.device
        self.k = [torch.zeros(batch, p["kv"], capacity, d, device=dev) for _ in model.layers]
        self.v = [torch.zeros(batch, p["kv"], capacity, d, device=dev) for _ in model.layers]
        self.norms = [n for layer in model.layers for n in (layer["norm1"], layer["norm2"])]
        inv = 1.0 / (10000.0 ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        ang = torch.arange(capacity, dtype=torch.float32).unsqueeze(1) * inv.unsqueeze(0)
        self.cos = torch.cat([ang.cos(), ang.cos()], -1).to(dev)
        self.sin = torch.cat([ang.sin(), ang.sin()], -1).to(dev)
        self.empty = torch.empty(0, device=dev)
        self.pos = 0
        self.loras = [[] for _ in self.kinds]
        self.sel = self.empty
        if lora:
            # The header of decoder_step.py: [cols (adapter id of each rank column), scalings, A, B] per
            # projection, and sel [B, slots] choosing adapter 0 for every row.
            cols = torch.zeros(LORA_RANK, dtype=torch.int64, device=dev)
            scales = torch.full((LORA_RANK,), LORA_ALPHA / LORA_RANK, device=dev)
            self.loras = [[cols, scales, a, b] for layer in model.lora for a, b in layer] + [[]]
            self.sel = torch.ones(batch, 1, device=dev)

    def __call__(self, ids, last=True):
        t = ids.shape[1]
        positions = torch.arange(self.pos, self.pos + t, device=ids.device).unsqueeze(0).expand(ids.shape[0], t)
        bias = self.empty
        if t > 1:  # causal mask [B, 1, 1, T, keys]
            keys = self.pos + t
            mask = torch.full((t, keys), float("-inf"), device=ids.device).triu(self.pos + 1)
            bias = mask.view(1, 1, 1, t, keys).expand(ids.shape[0], 1, 1, t, keys).contiguous()
        out = self.step.forward(ids, positions, self.m.embed, self.cos, self.sin, bias, self.sel, self.k, self.v,
                                self.norms, self.kinds, self.params, self.weights, self.loras, self.m.norm, self.pos, 0,
                                1e-5, 1.0 / math.sqrt(self.m.head_dim), last)
        self.pos += t
        return out


def reference(model, dense, device, dtype=torch.float32):
    from transformers import MistralConfig, MistralForCausalLM
    p = model.p
    cfg = MistralConfig(vocab_size=p["vocab"], hidden_size=p["hidden"], intermediate_size=p["ffn"],
                        num_hidden_layers=p["layers"], num_attention_heads=p["heads"], num_key_value_heads=p["kv"],
                        max_position_embeddings=p["context"], rms_norm_eps=1e-5, rope_theta=10000.0,
                        sliding_window=None, tie_word_embeddings=False)
    with torch.device("meta"):
        hf = MistralForCausalLM(cfg)
    sd = {"model.embed_tokens.weight": model.embed, "model.norm.weight": model.norm, "lm_head.weight": dense[-1]}
    for i, layer in enumerate(model.layers):
        pre = f"model.layers.{i}."
        sd[pre + "input_layernorm.weight"] = layer["norm1"]
        sd[pre + "post_attention_layernorm.weight"] = layer["norm2"]
        for j, name in enumerate(PROJ):
            sd[pre + ("self_attn." if j < 4 else "mlp.") + name + ".weight"] = dense[7 * i + j]
    hf = hf.to_empty(device=device)  # no random initialisation of a 7B model: the weights are ours
    hf.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, assign=True, strict=False)
    hf.model.rotary_emb = type(hf.model.rotary_emb)(config=cfg, device=device)
    return hf.eval()


def with_peft(hf, model):
    """The adapter on transformers' model, through PEFT (unmerged, as it runs it)."""
    from peft import LoraConfig, get_peft_model
    peft = get_peft_model(hf, LoraConfig(r=LORA_RANK, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=PROJ,
                                         init_lora_weights=False))
    layers = peft.base_model.model.model.layers
    for i, layer in enumerate(layers):
        for j, name in enumerate(PROJ):
            module = getattr(layer.self_attn if j < 4 else layer.mlp, name)
            a, b = model.lora[i][j]
            module.lora_A["default"].weight.data = a.to(module.lora_A["default"].weight.dtype)
            module.lora_B["default"].weight.data = b.to(module.lora_B["default"].weight.dtype)
    return peft.eval()


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@torch.no_grad()
def check_format(step, model, name, device, broken, timing):
    fmt, _, extra = name.partition("+")
    lora = extra == "lora"
    p = model.p
    g = torch.Generator(device="cpu").manual_seed(1)
    prompt = torch.randint(3, p["vocab"], (1, 16), generator=g).to(device)
    ours = Stepper(step, model, fmt, 1, 64, broken, lora)
    logits = ours(prompt, last=False)[0]
    ref32 = reference(model, ours.dense, device)
    effect = None
    if lora:
        plain = ref32(prompt).logits[0].float()
        ref32 = with_peft(ref32, model)
    ref = ref32(prompt).logits[0].float()
    if lora:
        effect = (ref - plain).abs().max().item()  # the adapter must matter, or its check proves nothing
    scale = ref.abs().max().item()
    err = (logits - ref).abs().max().item()
    if fmt in ("f32", "nf4"):  # float32 products of the stored values (NF4's dequantized in the script)
        bound = 1e-4 * scale
        hf_err = None
    else:
        hf16 = reference(model, ours.dense, device, torch.bfloat16)
        if lora:
            hf16 = with_peft(hf16, model)
        hf_err = (hf16(prompt).logits[0].float() - ref).abs().max().item()
        bound = max(2 * hf_err, 1e-3 * scale)
        del hf16
    # 32 greedy tokens: the step with its cache against transformers' generate on the float32 weights.
    gen = ref32.generate(prompt, max_new_tokens=32, do_sample=False, output_scores=True, return_dict_in_generate=True,
                         pad_token_id=0, eos_token_id=None)
    theirs = gen.sequences[0, 16:].tolist()
    tokens = [int(logits[-1].argmax())]
    for _ in range(31):
        tokens.append(int(ours(torch.tensor([[tokens[-1]]], device=device))[0].argmax()))
    same = next((i for i in range(32) if tokens[i] != theirs[i]), 32)
    margin = None
    greedy_ok = same == 32
    if not greedy_ok:
        top = gen.scores[same][0].float().topk(2).values
        margin = (top[0] - top[1]).item()
        greedy_ok = margin <= 2 * bound
    result = {"format": name, "max_abs_logit_diff": err, "largest_logit": scale, "bound": bound,
              "transformers_bf16_diff": hf_err, "adapter_effect": effect,
              "logits_ok": err <= bound and (effect is None or effect > 10 * bound), "greedy_equal_prefix": same,
              "greedy_margin_at_parting": margin, "greedy_ok": greedy_ok}
    del ref32, ours, gen
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    if timing and not lora:
        result.update(time_format(step, model, fmt, device))
    return result


@torch.no_grad()
def time_format(step, model, fmt, device, steps=32):
    out = {}
    p = model.p
    for batch in (1, 8, 32):
        s = Stepper(step, model, fmt, batch, 16 + steps + 8, want_dense=False)
        ids = torch.randint(3, p["vocab"], (batch, 16), device=device)
        s(ids)
        nxt = torch.randint(3, p["vocab"], (batch, 1), device=device)
        s(nxt)  # warm-up
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            s(nxt)
        sync(device)
        out[f"decode_b{batch}_tok_s"] = batch * steps / (time.perf_counter() - t0)
        del s
    s = Stepper(step, model, fmt, 1, 408, want_dense=False)
    ids = torch.randint(3, p["vocab"], (1, 400), device=device)
    s(ids)  # warm-up, then the same again from position 0
    s.pos = 0
    sync(device)
    t0 = time.perf_counter()
    s(ids)
    sync(device)
    out["prefill400_tok_s"] = 400 / (time.perf_counter() - t0)
    if device.startswith("cuda"):
        out["peak_device_bytes"] = torch.cuda.max_memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        out.update(time_cuda_graph(step, model, fmt, device, steps))
    return out


@torch.no_grad()
def time_cuda_graph(step, model, fmt, device, steps):
    """What CUDA graphs would add (Java cannot use them through TorchScript): one batch-1 decode step
    captured and replayed at the same position, so kernels run without launch overhead."""
    try:
        s = Stepper(step, model, fmt, 1, 64, want_dense=False)
        s(torch.randint(3, model.p["vocab"], (1, 16), device=device))
        nxt = torch.randint(3, model.p["vocab"], (1, 1), device=device)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                s.pos = 16
                s(nxt)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            s.pos = 16
            s(nxt)
        graph.replay()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            graph.replay()
        torch.cuda.synchronize()
        return {"decode_b1_cuda_graph_tok_s": steps / (time.perf_counter() - t0)}
    except Exception as e:
        return {"cuda_graph_error": f"{type(e).__name__}: {e}"[:500]}


@torch.no_grad()
def time_transformers_bf16(model, device, steps=32):
    dense = [w for layer in model.layers for w in layer["w"]] + [model.head]
    hf = reference(model, dense, device, torch.bfloat16)
    ids = torch.randint(3, model.p["vocab"], (1, 16), device=device)
    hf.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=0, eos_token_id=None)
    sync(device)
    t0 = time.perf_counter()
    hf.generate(ids, max_new_tokens=steps, min_new_tokens=steps, do_sample=False, pad_token_id=0, eos_token_id=None)
    sync(device)
    return steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--formats", default="f32,bf16,int4,int8,nf4,f32+lora,int4+lora",
                    help="formats to check; +lora adds a LoRA adapter (PEFT on transformers' side)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--break", dest="broken", choices=["int4"], help="pack int4 wrong on purpose")
    args = ap.parse_args()
    unknown = [f for f in args.formats.split(",") if f.partition("+")[0] not in KIND or f.partition("+")[2] not in ("", "lora")]
    if unknown:
        ap.error(f"--formats: {', '.join(unknown)} not among {', '.join(KIND)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    step = load_step(args.device)
    model = Model(PRESETS[args.preset], args.device)
    report = {"device": args.device, "preset": args.preset, "shape": PRESETS[args.preset], "torch": torch.__version__,
              "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None, "formats": []}
    failed = False
    for fmt in args.formats.split(","):
        try:
            r = check_format(step, model, fmt, args.device, args.broken == fmt, not args.no_timing)
        except Exception as e:  # a kernel missing on this device, out of memory...: recorded, the others still run
            r = {"format": fmt, "error": f"{type(e).__name__}: {e}"[:2000], "logits_ok": False, "greedy_ok": False,
                 "max_abs_logit_diff": float("nan"), "largest_logit": float("nan"), "bound": float("nan"),
                 "transformers_bf16_diff": None, "greedy_equal_prefix": 0}
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
        report["formats"].append(r)
        failed |= not (r["logits_ok"] and r["greedy_ok"])
        print(json.dumps(r), flush=True)
    if not args.no_timing:
        try:
            report["transformers_bf16_generate_b1_tok_s"] = time_transformers_bf16(model, args.device)
        except Exception as e:
            report["transformers_bf16_error"] = f"{type(e).__name__}: {e}"[:2000]
    report["passed"] = not failed
    (out / "cuda_check.json").write_text(json.dumps(report, indent=2))
    graphs = [f"{r['format']}: {r['decode_b1_cuda_graph_tok_s']:.1f}" for r in report["formats"]
              if "decode_b1_cuda_graph_tok_s" in r]
    lines = [f"# MedQA decoder step on {report['gpu'] or args.device} ({args.preset}, torch {torch.__version__})", "",
             "| format | max abs logit diff | bound | transformers bf16 diff | greedy equal | decode b1/b8/b32 tok/s "
             "| prefill 400 tok/s | peak device GB | pass |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["formats"]:
        dec = "/".join(f"{r[k]:.1f}" for k in ("decode_b1_tok_s", "decode_b8_tok_s", "decode_b32_tok_s") if k in r)
        hf = f"{r['transformers_bf16_diff']:.3g}" if r["transformers_bf16_diff"] is not None else "-"
        peak = f"{r['peak_device_bytes'] / 1e9:.1f}" if "peak_device_bytes" in r else "-"
        pre = f"{r['prefill400_tok_s']:.0f}" if "prefill400_tok_s" in r else "-"
        lines.append(f"| {r['format']} | {r['max_abs_logit_diff']:.3g} (of {r['largest_logit']:.3g}) | {r['bound']:.3g} "
                     f"| {hf} | {r['greedy_equal_prefix']}/32 | {dec or '-'} | {pre} | {peak} "
                     f"| {'yes' if r['logits_ok'] and r['greedy_ok'] else 'NO'} |")
    for r in report["formats"]:
        if "error" in r:
            lines += ["", f"{r['format']}: {r['error']}"]
    if graphs:
        lines += ["", "decode batch 1 replayed from a CUDA graph, tok/s: " + ", ".join(graphs)]
    if "transformers_bf16_generate_b1_tok_s" in report:
        lines += ["", f"transformers bfloat16 generate, batch 1: {report['transformers_bf16_generate_b1_tok_s']:.1f} tok/s"]
    (out / "cuda_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
