"""Golden data for MedQA's GGUF reader (medqa-common, ai.medqa.io.GgufFile).

Writes, with the `gguf` package (llama.cpp's own Python writer and reference dequantizers):
  types.gguf      metadata of every GGUF value type, and one tensor per ggml type MedQA reads
                  (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K) filled with random blocks
                  (random bytes; the float16 scale fields set to moderate values so no block is NaN)
  types.safetensors  each tensor dequantized by gguf.quants.dequantize, float32, same names

Usage: /tmp/ref/bin/python tools/make_gguf_golden.py OUT_DIR
(gguf and safetensors from the local package index: pip install gguf safetensors numpy)
"""
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from safetensors.numpy import save_file

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(20261204)

# (type, byte offsets of float16 scale fields inside a block)
TYPES = {
    T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}


def f16_bytes(n):
    return rng.uniform(-0.05, 0.05, n).astype(np.float16).view(np.uint8).reshape(n, 2)


w = gguf.GGUFWriter(str(out / "types.gguf"), arch="llama")
w.add_uint8("test.u8", 200)
w.add_int8("test.i8", -100)
w.add_uint16("test.u16", 60000)
w.add_int16("test.i16", -30000)
w.add_uint32("test.u32", 4000000000)
w.add_int32("test.i32", -2000000000)
w.add_float32("test.f32", 1.5)
w.add_bool("test.bool", True)
w.add_string("test.string", "héllo ▁world")
w.add_array("test.array_i32", [1, -2, 3])
w.add_array("test.array_str", ["a", "bé", ""])
w.add_uint64("test.u64", 2**63 + 5)
w.add_int64("test.i64", -(2**62))
w.add_float64("test.f64", 0.1)

golden = {}
rows, cols = 2, 256
dense = rng.standard_normal((rows, cols)).astype(np.float32)
w.add_tensor("t.f32", dense)
golden["t.f32"] = dense
half = dense.astype(np.float16)
w.add_tensor("t.f16", half)
golden["t.f16"] = half.astype(np.float32)
bf = gguf.quants.quantize(dense, T.BF16)
w.add_tensor("t.bf16", bf, raw_shape=bf.shape, raw_dtype=T.BF16)
golden["t.bf16"] = gguf.quants.dequantize(bf, T.BF16).reshape(rows, cols)
for qtype, scale_offsets in TYPES.items():
    block, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block
    raw = rng.integers(0, 256, (n_blocks, type_size), dtype=np.uint8)
    for off in scale_offsets:
        raw[:, off:off + 2] = f16_bytes(n_blocks)
    raw = raw.reshape(rows, cols // block * type_size)
    name = "t." + qtype.name.lower()
    w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=qtype)
    golden[name] = gguf.quants.dequantize(raw, qtype).reshape(rows, cols).astype(np.float32)

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
save_file({k: np.ascontiguousarray(v) for k, v in golden.items()}, str(out / "types.safetensors"))
r = gguf.GGUFReader(str(out / "types.gguf"))
print("wrote", len(r.tensors), "tensors,", len(r.fields), "fields:", [(t.name, t.tensor_type.name) for t in r.tensors])
