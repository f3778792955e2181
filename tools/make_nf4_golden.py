"""NF4 golden for ai.medqa.quant tests, computed the way bitsandbytes' pure-PyTorch backend does.

bitsandbytes itself cannot be installed here, so this script restates, with torch, the reference
("default" backend, bitsandbytes/backends/default/ops.py) kernels `quantize_4bit`,
`quantize_blockwise` and `dequantize_4bit`, plus `create_dynamic_map` and `get_4bit_type("nf4")`
from bitsandbytes/functional.py, line for line. Nearest code is torch.argmin of the distance
(ties -> the lower index). Double quantization follows functional.quantize_4bit with
compress_statistics=True: offset = absmax.mean(); quantize_blockwise(absmax - offset, blocksize=256)
with the signed dynamic map.

Usage: /tmp/ref/bin/python tools/make_nf4_golden.py OUT.json
"""
import base64
import json
import sys

import torch

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    data = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed
                             else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    if additional_items > 0:
        boundaries = torch.linspace(0.1, 1, additional_items + 1)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    assert len(data) == 2 ** total_bits
    data.sort()
    return torch.tensor(data)  # torch.Tensor(data) in bitsandbytes: float32


def quantize_blockwise(A, code, blocksize):
    n = A.numel()
    rem = n % blocksize
    has_rem = rem > 0
    blocks = n // blocksize + has_rem
    absmax = torch.zeros((blocks,), dtype=torch.float32)
    A_reshaped = A.reshape(n)
    A_com = A_reshaped[: n - rem]
    A_com_reshaped = A_com.reshape(n // blocksize, blocksize)
    absmax[: blocks - has_rem] = torch.abs(A_com_reshaped).max(dim=-1)[0]
    scaled_A = torch.clamp(A_com_reshaped * (1 / absmax[: blocks - has_rem].view(-1, 1)), -1, 1)
    scaled_A = scaled_A.reshape(-1)
    if has_rem:
        absmax[-1] = torch.abs(A_reshaped[n - rem:]).max()
        scaled_A_rem = torch.clamp(A_reshaped[n - rem:] * (1 / absmax[-1]), -1, 1)
        scaled_A = torch.cat([scaled_A, scaled_A_rem], dim=0)
    diff = torch.abs(scaled_A.unsqueeze(-1) - code)
    out = torch.argmin(diff, dim=-1).to(torch.uint8).reshape(A.shape)
    return out, absmax


def dequantize_blockwise(A, absmax, code, blocksize):
    out = code[A.reshape(-1).int()]
    blocks = out.shape[-1] // blocksize
    res = out.shape[-1] % blocksize
    if res != 0:
        out = torch.nn.functional.pad(out, (0, blocksize - res), mode="constant", value=0)
    out = (out.view(-1, blocksize) * absmax.view(-1, 1)).reshape(-1)
    return out[: blocks * blocksize + res].reshape(A.shape)


def quantize_4bit(A, blocksize=64):
    n = A.numel()
    full_blocks = n // blocksize
    rem = n % blocksize
    blocks = full_blocks + 1 if rem else full_blocks
    absmax = torch.zeros((blocks,), dtype=torch.float32)
    A_flattened = A.reshape(n)
    A_full_blocks = A_flattened[: n - rem].reshape(n // blocksize, blocksize)
    absmax[:full_blocks] = torch.abs(A_full_blocks).max(dim=-1)[0]
    scaled = torch.clamp(A_full_blocks * (1 / absmax[:full_blocks].view(-1, 1)), -1, 1).reshape(-1)
    if rem:
        A_rem = A_flattened[-rem:]
        absmax[-1] = torch.abs(A_rem).max()
        scaled_rem = torch.clamp(A_rem * (1 / absmax[-1]), -1, 1)
        scaled = torch.cat([scaled, scaled_rem], dim=0)
    code = torch.tensor(NF4, dtype=scaled.dtype)
    if scaled.numel() % 2 != 0:
        scaled = torch.nn.functional.pad(scaled, (0, 1), value=0.0)
    quantized = torch.argmin(torch.abs(scaled.view(-1, 1) - code), dim=-1, keepdim=True).to(torch.uint8)
    packed = quantized[::2] << 4 | quantized[1::2]
    return packed, absmax.float()


def dequantize_4bit(A, absmax, blocksize, shape):
    A = A.reshape(-1)
    out_dq = torch.empty(A.size(0) * 2, dtype=torch.int32)
    out_dq[1::2] = A & 0xF
    out_dq[::2] = A >> 4
    out_dq = torch.tensor(NF4, dtype=torch.float32)[out_dq]
    n = 1
    for s in shape:
        n *= s
    out_dq = out_dq[:n]
    return (out_dq.view(-1, blocksize) * absmax.view(-1, 1)).reshape(shape)


def b64(t):
    return base64.b64encode(t.contiguous().numpy().tobytes()).decode()


def main(out):
    g = torch.Generator().manual_seed(606)
    shape = (72, 256)  # 288 blocks of 64 -> nested: one full block of 256 and a partial one of 32
    w = (torch.randn(shape, generator=g) * 0.05).float()
    w[5, :] = 0.0  # four all-zero blocks: absmax 0, bitsandbytes gives code 0 (1/0 * 0 is NaN)
    w[7, 3] = 0.9  # one outlier block
    dynamic = create_dynamic_map()
    packed, absmax = quantize_4bit(w)
    deq = dequantize_4bit(packed, absmax, 64, shape)
    offset = absmax.mean()
    qabsmax, nested_absmax = quantize_blockwise(absmax - offset, dynamic, 256)
    absmax2 = dequantize_blockwise(qabsmax, nested_absmax, dynamic, 256) + offset
    deq2 = dequantize_4bit(packed, absmax2, 64, shape)
    json.dump({
        "source": "tools/make_nf4_golden.py (bitsandbytes default-backend kernels restated in torch "
                  + torch.__version__ + ")",
        "shape": list(shape),
        "weight_f32_b64": b64(w),
        "dynamic_map_f32_b64": b64(dynamic),
        "packed_b64": b64(packed),
        "absmax_f32_b64": b64(absmax),
        "dequant_f32_b64": b64(deq),
        "nested_offset_f32_b64": b64(offset.reshape(1)),
        "qabsmax_b64": b64(qabsmax),
        "nested_absmax_f32_b64": b64(nested_absmax),
        "dequant_double_f32_b64": b64(deq2),
    }, open(out, "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
