# TorchScript source of the decoder step (DecoderStep.java), loaded as code/__torch__.py of an archive
# written at run time (no Python involved). It repeats the op-by-op path (RmsNorm, Attention, Mlp,
# Rope, and each Linear's forward) operation for operation, in the same order and dtypes, so both
# paths give the same logits; only the per-op cost differs: one interpreter instruction here against
# a JNI call and a Java NDArray per operation there. The packed products (int4, int8, NF4) exist only
# here: the quantized Linears call these methods for their op-by-op forward too.
#
# A projection is (kind, param, tensors, lora):
#   kind 0 dense:  [weight [out, in]]                                  param = 1: float32 products of many
#                                                                      rows may take bfloat16 GEMMs
#   kind 1 int4:   [packed (the kernel's layout), scales_and_zeros bf16 [in/group, out, 2]]  param = group
#   kind 2 int8:   [q int8 [out, in], scales bf16 [out]]               param unused
#   kind 4 bf16:   [weight bf16 [out, in]], bfloat16 activations      param unused
#   kind 3 nf4:    [packed uint8, pairs [256, 2], absmax [blocks]]      param = out
#               or [packed uint8, pairs, qabsmax uint8, nested_absmax, nested_map [256, 1], offset []]
#   lora: [] or [cols int64 [R], scales float32 [R], A_0 [r_0, in], B_0 [out, r_0], A_1, B_1, ...]: the
#     float32 LoRA matrices of every adapter attached to the projection, R = sum of their ranks; rank
#     column j belongs to adapter id cols[j] and carries that adapter's scaling scales[j].
# sel [B, slots] float32 says which adapter each batch row uses (sel[b, id] = 1; a zero row: none), or
# is an empty tensor when no row uses one. Each row gets base(x) + scaling * (x A^T) B^T of its own
# adapter, unmerged as PEFT adds it: rows of different adapters share the base products.
# Per layer there are 7 projections in checkpoint order (q, k, v, o, gate, up, down); lm_head follows
# the last layer's. Keys and values of the T new positions are written in place into the
# preallocated caches [B, kv_heads, capacity, head_dim] at slots [start, start + T); attention reads
# slots [frm, start + T). bias is the additive float32 mask [B, 1, 1, T, keys], or an empty tensor
# when every key read is visible. ScalarType numbers: 3 int32, 6 float32, 15 bfloat16.
class DecoderStep(Module):
  __parameters__ = []
  __buffers__ = []
  training : bool
  _is_full_backward_hook : Optional[bool]

  # One decode or prefill step: embedding, rotary tables, every layer, the final norm and lm_head.
  # Returns float32 logits [B, T, vocab], or [B, vocab] for the last position when last is true.
  def forward(self: __torch__.DecoderStep,
    ids: Tensor,
    positions: Tensor,
    embed: Tensor,
    cos_table: Tensor,
    sin_table: Tensor,
    bias: Tensor,
    sel: Tensor,
    k_caches: List[Tensor],
    v_caches: List[Tensor],
    norms: List[Tensor],
    kinds: List[int],
    params: List[int],
    weights: List[List[Tensor]],
    loras: List[List[Tensor]],
    norm: Tensor,
    start: int,
    frm: int,
    eps: float,
    scale: float,
    last: bool) -> Tensor:
    b = torch.size(ids, 0)
    t = torch.size(ids, 1)
    x = torch.embedding(embed, ids)
    hidden = torch.size(x, 2)
    cos = torch.unsqueeze(torch.embedding(cos_table, positions), 1)
    sin = torch.unsqueeze(torch.embedding(sin_table, positions), 1)
    d = torch.size(cos, -1)
    half = torch.floordiv(d, 2)
    end = start + t
    keys = end - frm
    masked = torch.gt(torch.numel(bias), 0)
    # rotate_half(x) * sin == flip_halves(x) * signed_sin, with signed_sin = [-sin1, sin2]: one
    # flip per rotation instead of two slices, a negation and a concatenation; exact, as only
    # signs move.
    sin = torch.cat([torch.neg(torch.slice(sin, -1, 0, half)), torch.slice(sin, -1, half)], -1)
    # Rows are tokens: projections are plain 2-D matrix products; each token row takes its batch
    # row's adapter.
    x = torch.reshape(x, [b * t, hidden])
    folded = bias
    if masked:
      folded = torch.empty([0], dtype=6, device=ids.device)
    tsel = sel
    if t > 1 and torch.numel(sel) > 0:
      tsel = torch.repeat_interleave(sel, t, 0)
    for i in range(torch.len(k_caches)):
      p = 7 * i
      k_cache = k_caches[i]
      v_cache = v_caches[i]
      kv_heads = torch.size(k_cache, 1)
      # Attention (Attention.forward).
      n = self.rms_norm(x, norms[2 * i], eps)
      q = self.project(n, kinds[p], params[p], weights[p], loras[p], tsel)
      k = self.project(n, kinds[p + 1], params[p + 1], weights[p + 1], loras[p + 1], tsel)
      v = self.project(n, kinds[p + 2], params[p + 2], weights[p + 2], loras[p + 2], tsel)
      q = torch.transpose(torch.reshape(q, [b, t, -1, d]), 1, 2)
      k = torch.transpose(torch.reshape(k, [b, t, kv_heads, d]), 1, 2)
      v = torch.transpose(torch.reshape(v, [b, t, kv_heads, d]), 1, 2)
      heads = torch.size(q, 1)
      groups = torch.floordiv(heads, kv_heads)
      q = self.rotate(q, cos, sin, half)
      k = self.rotate(k, cos, sin, half)
      torch.copy_(torch.slice(k_cache, 2, start, end), k)
      torch.copy_(torch.slice(v_cache, 2, start, end), v)
      # [B, kv, slots, d] sliced on slots still merges B and kv into one batch axis without a copy.
      k = torch.reshape(torch.slice(k_cache, 2, frm, end), [b * kv_heads, keys, d])
      v = torch.reshape(torch.slice(v_cache, 2, frm, end), [b * kv_heads, keys, d])
      # Query heads h = kv * groups + g share key head kv: groups folded into the row axis.
      qg = torch.reshape(q, [b * kv_heads, groups * t, d])
      # Several float32 rows (prefill, scoring) in a layer whose products round to bfloat16 anyway
      # take PyTorch's fused attention; layers of exact float32 products keep the three passes the
      # op-by-op path repeats (attend). The fused kernel's mask, the same for every layer, is made once.
      fast = t > 1 and ops.prim.dtype(q) == 6 and self.rounds_to_bf16(kinds, params, p, b * t)
      if fast and masked and torch.numel(folded) == 0:
        folded = self.fold_mask(bias, groups)
      out = self.attend(qg, k, v, bias, folded, b, t, scale, fast)
      out = torch.reshape(torch.transpose(out, 1, 2), [b * t, heads * d])
      x = torch.add(x, self.project(out, kinds[p + 3], params[p + 3], weights[p + 3], loras[p + 3], tsel))
      # SwiGLU MLP (Mlp.forward).
      n = self.rms_norm(x, norms[2 * i + 1], eps)
      gate = self.project(n, kinds[p + 4], params[p + 4], weights[p + 4], loras[p + 4], tsel)
      silu = torch.mul(gate, torch.sigmoid(gate))
      up = self.project(n, kinds[p + 5], params[p + 5], weights[p + 5], loras[p + 5], tsel)
      x = torch.add(x, self.project(torch.mul(silu, up), kinds[p + 6], params[p + 6], weights[p + 6], loras[p + 6], tsel))
    x = torch.view(self.rms_norm(x, norm, eps), [b, t, hidden])
    if last:
      x = torch.select(x, 1, -1)
    h = 7 * torch.len(k_caches)
    if last:
      tsel = sel
    logits = self.project(x, kinds[h], params[h], weights[h], loras[h], tsel)
    return torch.to(logits, 6)

  # softmax(q k^T * scale + bias) v for the queries qg [B * kv, groups * T, d] (query head
  # kv * groups + g at rows g * T..) and the keys and values [B * kv, keys, d]; returns [B, heads, T, d].
  # fast: PyTorch's fused attention (scaled_dot_product_attention, its flash kernel on the CPU) on
  # the mask folded over the groups (folded, or made here when empty), with no [rows, keys] score
  # tensors: 2-3x faster than the three passes at 400 rows (M, L and Mistral-7B shapes), but it sums
  # in another order (outputs within 1e-6 of theirs: DecoderStepTest). Otherwise the three passes
  # Attention.forward makes, in the same order and dtypes: scores, softmax in float32, weighted sum.
  def attend(self: __torch__.DecoderStep,
    qg: Tensor,
    k: Tensor,
    v: Tensor,
    bias: Tensor,
    folded: Tensor,
    b: int,
    t: int,
    scale: float,
    fast: bool) -> Tensor:
    kv_heads = torch.floordiv(torch.size(k, 0), b)
    groups = torch.floordiv(torch.size(qg, 1), t)
    keys = torch.size(k, 1)
    d = torch.size(k, 2)
    masked = torch.numel(bias) > 0
    if fast:
      mask: Optional[Tensor] = None
      if masked:
        if torch.numel(folded) == 0:
          folded = self.fold_mask(bias, groups)
        mask = folded
      out = torch.scaled_dot_product_attention(torch.view(qg, [b, kv_heads, groups * t, d]),
          torch.view(k, [b, kv_heads, keys, d]), torch.view(v, [b, kv_heads, keys, d]), mask, 0., False, scale=scale)
      return torch.view(out, [b, kv_heads * groups, t, d])
    scores = torch.mul(torch.bmm(qg, torch.transpose(k, 1, 2)), scale)
    dtype = ops.prim.dtype(scores)
    # Softmax in float32 whatever the compute dtype.
    scores = torch.to(scores, 6)
    if masked:
      scores = torch.add(torch.view(scores, [b, kv_heads, groups, t, keys]), bias)
      scores = torch.view(scores, [b * kv_heads, groups * t, keys])
    probs = torch.to(torch.softmax(scores, -1), dtype)
    return torch.view(torch.bmm(probs, v), [b, kv_heads * groups, t, d])

  # The mask bias [B, 1, 1, T, keys] repeated for each query group: [B, 1, groups * T, keys].
  def fold_mask(self: __torch__.DecoderStep,
    bias: Tensor,
    groups: int) -> Tensor:
    shape = torch.size(bias)
    return torch.reshape(torch.expand(bias, [shape[0], 1, groups, shape[3], shape[4]]),
        [shape[0], 1, groups * shape[3], shape[4]])

  # Whether any product of layer p's projections rounds to bfloat16 for `rows` rows: int4, int8 and
  # bf16 always, a dense float32 one under MatmulPrecision.MEDIUM from 128 rows on (dense_mm).
  def rounds_to_bf16(self: __torch__.DecoderStep,
    kinds: List[int],
    params: List[int],
    p: int,
    rows: int) -> bool:
    for j in range(7):
      kind = kinds[p + j]
      if kind == 1 or kind == 2 or kind == 4 or (kind == 0 and params[p + j] == 1 and rows >= 128):
        return True
    return False

  # y = x W^T (+ the LoRA delta) for one projection described as in the header.
  def project(self: __torch__.DecoderStep,
    x: Tensor,
    kind: int,
    param: int,
    w: List[Tensor],
    lora: List[Tensor],
    sel: Tensor) -> Tensor:
    if kind == 0:
      y = self.dense_mm(x, w[0], param)
    elif kind == 1:
      y = self.int4_mm(x, w[0], param, w[1])
    elif kind == 2:
      y = self.int8_mm(x, w[0], w[1])
    elif kind == 4:
      y = torch.to(self.bf16_mm(torch.to(x, 15), w[0]), ops.prim.dtype(x))
    else:
      y = self.nf4_mm(x, w, param)
    if torch.len(lora) == 0 or torch.numel(sel) == 0:
      return y
    # LoraLinear.forward: (x A^T) B^T in float32, scaled, added to the base output in float32. The
    # adapters' A (and B) side by side make one product for all rows; the mask keeps, in each row,
    # the rank columns of that row's adapter only, times its scaling.
    if torch.len(lora) == 4:
      a = lora[2]
      bm = lora[3]
    else:
      a = torch.cat(lora[2::2], 0)
      bm = torch.cat(lora[3::2], 1)
    mask = torch.mul(torch.index_select(sel, 1, lora[0]), lora[1])
    if torch.dim(x) == 3:
      # Op by op, x is [B, T, in] and sel has one row per batch row.
      mask = torch.unsqueeze(mask, 1)
    delta = torch.linear(torch.mul(torch.linear(torch.to(x, 6), a), mask), bm)
    dtype = ops.prim.dtype(y)
    if dtype == 6:
      return torch.add(y, delta)
    return torch.to(torch.add(torch.to(y, 6), delta), dtype)

  # x W^T for a dense weight in x's dtype. On the CPU, float32 goes to oneDNN's matmul directly
  # (onednn_mm): aten::linear takes MKL's sgemm, which on AMD CPUs runs 2.4-4.3x slower at one row
  # and 1.6-2.8x slower at 400 (measured on a Zen 5 with Mistral-7B, L and M shapes). float16 has
  # no oneDNN path without AVX512-FP16 and keeps aten's. With bf16_many_rows (MatmulPrecision.MEDIUM)
  # a float32 product of 128 rows or more runs as bfloat16 GEMMs on bands of the weight
  # (bf16_bands), its result rounded to bfloat16 as Precision.BF16's products are.
  def dense_mm(self: __torch__.DecoderStep,
    x: Tensor,
    w: Tensor,
    bf16_many_rows: int) -> Tensor:
    if x.is_cuda or ops.prim.dtype(x) != 6:
      return torch.linear(x, w)
    shape = torch.size(x)
    if bf16_many_rows == 1 and torch.floordiv(torch.numel(x), shape[-1]) >= 128:
      y = self.bf16_bands(torch.reshape(torch.to(x, 15), [-1, shape[-1]]), w)
      shape[-1] = torch.size(y, 1)
      return torch.reshape(torch.to(y, 6), shape)
    return self.onednn_mm(x, w)

  # x W^T for bfloat16 x and W. Below 128 rows (decode, batched decode) oneDNN's matmul called
  # directly reads the weight 2.2-2.5x faster than aten::linear's route to it; from 128 rows on
  # aten's is as fast or faster (measured as for dense_mm).
  def bf16_mm(self: __torch__.DecoderStep,
    x: Tensor,
    w: Tensor) -> Tensor:
    if x.is_cuda or torch.floordiv(torch.numel(x), torch.size(x, -1)) >= 128:
      return torch.linear(x, w)
    return self.onednn_mm(x, w)

  # x [..., in] W^T through oneDNN's matmul on the plain weight as stored (no reordered copy).
  def onednn_mm(self: __torch__.DecoderStep,
    x: Tensor,
    w: Tensor) -> Tensor:
    shape = torch.size(x)
    y = ops.mkldnn._linear_pointwise(torch.reshape(x, [-1, shape[-1]]), w, None, "none",
        annotate(List[Optional[number]], []), "")
    shape[-1] = torch.size(y, 1)
    return torch.reshape(y, shape)

  # Group-wise asymmetric int4 (weight = (q - 8) * scale + zero), PyTorch's packed kernels with
  # bfloat16 activations (their fast path); the result comes back in x's dtype. The packed CPU
  # kernel re-reads the weight for every few rows and computes at ~330 GFLOP/s on two cores however
  # many rows come, while a bfloat16 GEMM (oneDNN: AMX or AVX512-BF16) reaches ~850: from 128 rows
  # on (prefill, likelihood scoring, wide batches) the weight goes through int4_bands instead,
  # 1.4-1.9x faster at 400 rows and slower below ~128 (measured on M, L and Mistral-7B shapes).
  def int4_mm(self: __torch__.DecoderStep,
    x: Tensor,
    packed: Tensor,
    group: int,
    scales_and_zeros: Tensor) -> Tensor:
    shape = torch.size(x)
    rows = torch.reshape(torch.to(x, 15), [-1, shape[-1]])
    if x.is_cuda:
      y = torch._weight_int4pack_mm(rows, packed, group, scales_and_zeros)
    elif torch.size(rows, 0) >= 128 and torch.size(scales_and_zeros, 1) % 64 == 0:
      y = self.int4_bands(rows, packed, group, scales_and_zeros)
    else:
      y = torch._weight_int4pack_mm_for_cpu(rows, packed, group, scales_and_zeros)
    shape[-1] = torch.size(y, 1)
    return torch.reshape(torch.to(y, ops.prim.dtype(x)), shape)

  # x [rows, in] bfloat16 times an int4 weight in the CPU kernel's layout, through bfloat16 GEMMs.
  # That layout (PyTorch 2.7's _convert_weight_to_int4pack_for_cpu; Int4LinearTest checks it) is
  # blocks of 64 output rows, each [in, 32] bytes whose low nibble is row j and high nibble row
  # j + 32 of the block. A band of 8 blocks (512 outputs: 4 MiB of bfloat16 at in = 4096) is
  # unpacked into W^T [in, 512] and dequantized as the kernel does, (q - 8) * scale + zero in
  # float32 (one rounding, as its fused multiply-add) rounded to bfloat16 (the weight a
  # transformers bfloat16 run of the dequantized model holds), then multiplied while it is in
  # cache (int4_band). Every band reuses the same buffers and writes its product into its slice of
  # one output: fresh tensors per band (or a batched matmul, which copies x once per block) cost
  # more in page faults than the products themselves. The blocks left over make one smaller band.
  def int4_bands(self: __torch__.DecoderStep,
    x: Tensor,
    packed: Tensor,
    group: int,
    scales_and_zeros: Tensor) -> Tensor:
    k = torch.size(x, 1)
    m = torch.size(x, 0)
    groups = torch.floordiv(k, group)
    blocks = torch.floordiv(torch.size(scales_and_zeros, 1), 64)
    band = min(8, blocks)
    full = torch.floordiv(blocks, band)
    rest = blocks - full * band
    bytes = torch.empty([k, band, 32], dtype=0, device=x.device)
    codes = torch.empty([k, 2, band, 32], dtype=1, device=x.device)
    w = torch.empty([k, 2, band, 32], dtype=15, device=x.device)
    sz = torch.empty([2, groups, 2, band, 32], dtype=15, device=x.device)
    y = torch.empty([full, m, band * 64], dtype=15, device=x.device)
    i = 0
    while i < full:
      self.int4_band(x, packed, scales_and_zeros, i * band * 64, group, bytes, codes, w, sz, torch.select(y, 0, i))
      i = i + 1
    # [band, m, half, block, 32] -> [m, band, block, half, 32]: rows in order.
    y = torch.reshape(torch.permute(torch.view(y, [full, m, 2, band, 32]), [1, 0, 3, 2, 4]), [m, full * band * 64])
    if rest == 0:
      return y
    r = torch.empty([m, rest * 64], dtype=15, device=x.device)
    self.int4_band(x, packed, scales_and_zeros, full * band * 64, group,
        torch.empty([k, rest, 32], dtype=0, device=x.device), torch.empty([k, 2, rest, 32], dtype=1, device=x.device),
        torch.empty([k, 2, rest, 32], dtype=15, device=x.device),
        torch.empty([2, groups, 2, rest, 32], dtype=15, device=x.device), r)
    r = torch.reshape(torch.permute(torch.view(r, [m, 2, rest, 32]), [0, 2, 1, 3]), [m, rest * 64])
    return torch.cat([y, r], 1)

  # One band of int4_bands: the blocks from output row b on, as many as the buffers hold, times x
  # into out [rows, 64 * blocks], whose columns are [low rows of every block, high rows of every
  # block]. Every step after the first runs on contiguous memory (or long runs of it), where
  # PyTorch's elementwise kernels are vectorized; on the layout's 32-byte runs or on mixed dtypes
  # they were 3-7x slower, and dequantizing cost as much as the product. So the band's bytes are
  # transposed once to [in, blocks, 32]; their high and low nibbles become int8 q - 8 in W^T's
  # column order; int8 to bfloat16; then zero + (q - 8) * scale in bfloat16 (computed in float32)
  # with the band's scales and zeros copied into that column order.
  def int4_band(self: __torch__.DecoderStep,
    x: Tensor,
    packed: Tensor,
    scales_and_zeros: Tensor,
    b: int,
    group: int,
    bytes: Tensor,
    codes: Tensor,
    w: Tensor,
    sz: Tensor,
    out: Tensor) -> None:
    k = torch.size(x, 1)
    band = torch.size(bytes, 1)
    groups = torch.floordiv(k, group)
    v = torch.view(torch.slice(packed, 0, b, b + band * 64), [band, k, 32])
    torch.copy_(bytes, torch.permute(v, [1, 0, 2]))
    torch.bitwise_right_shift(bytes, 4, out=torch.select(codes, 1, 1))
    torch.bitwise_and(bytes, 15, out=torch.select(codes, 1, 0))
    torch.sub_(codes, 8)
    torch.copy_(w, codes)
    # scales_and_zeros [groups, out, 2] -> [scale or zero, groups, half, block, 32]
    s = torch.view(torch.slice(scales_and_zeros, 1, b, b + band * 64), [groups, band, 2, 32, 2])
    torch.copy_(sz, torch.permute(s, [4, 0, 2, 1, 3]))
    wg = torch.view(w, [groups, group, band * 64])
    torch.addcmul(torch.view(torch.select(sz, 0, 1), [groups, 1, band * 64]), wg,
        torch.view(torch.select(sz, 0, 0), [groups, 1, band * 64]), out=wg)
    torch.mm(x, torch.view(w, [k, band * 64]), out=out)

  # int8 with one scale per output channel, bfloat16 activations. PyTorch 2.7.1's CPU kernel reads
  # out of bounds for several rows when in_features is not a multiple of 32 (it crashed on 172):
  # such shapes take the plain product (x q^T) * scale. From 96 rows on, as for int4, bands of 256
  # rows of q go to bfloat16 (exact: |q| <= 127) and through oneDNN's GEMM, the scale applied to
  # the float32 result: 1.4-2.4x faster than the packed kernel at 128-400 rows.
  def int8_mm(self: __torch__.DecoderStep,
    x: Tensor,
    q: Tensor,
    scales: Tensor) -> Tensor:
    shape = torch.size(x)
    dtype = ops.prim.dtype(x)
    if shape[-1] % 32 != 0:
      return torch.mul(torch.linear(x, torch.to(q, dtype)), torch.to(scales, dtype))
    rows = torch.reshape(torch.to(x, 15), [-1, shape[-1]])
    if torch.size(rows, 0) >= 96 and not x.is_cuda:
      y = torch.mul(torch.to(self.bf16_bands(rows, q), 6), scales)
    else:
      y = torch._weight_int8pack_mm(rows, q, scales)
    shape[-1] = torch.size(y, 1)
    return torch.reshape(torch.to(y, dtype), shape)

  # rows [m, in] bfloat16 times q [out, in] of any dtype (int8 codes, exact in bfloat16; float32
  # weights, rounded to nearest) through bfloat16 GEMMs on bands of 256 rows of q converted into one
  # reused buffer, each product written into its slice of one output (no fresh tensor per band, as
  # in int4_bands).
  def bf16_bands(self: __torch__.DecoderStep,
    rows: Tensor,
    q: Tensor) -> Tensor:
    n = torch.size(q, 0)
    k = torch.size(q, 1)
    band = min(256, n)
    w = torch.empty([band, k], dtype=15, device=rows.device)
    y = torch.empty([torch.floordiv(n + band - 1, band), torch.size(rows, 0), band], dtype=15, device=rows.device)
    r = 0
    i = 0
    while r < n:
      r1 = min(r + band, n)
      wn = torch.slice(w, 0, 0, r1 - r)
      torch.copy_(wn, torch.slice(q, 0, r, r1))
      if r1 - r == band:
        torch.matmul(rows, torch.t(wn), out=torch.select(y, 0, i))
      else:
        torch.copy_(torch.slice(torch.select(y, 0, i), 1, 0, r1 - r), torch.matmul(rows, torch.t(wn)))
      r = r1
      i = i + 1
    return torch.slice(torch.reshape(torch.permute(y, [1, 0, 2]), [torch.size(rows, 0), -1]), 1, 0, n)

  # Codes q [out, in] (int32, 0..15) in the int4 kernel's layout for x's device.
  def pack_int4(self: __torch__.DecoderStep,
    q: Tensor) -> Tensor:
    if q.is_cuda:
      # tinygemm takes two codes per byte, the even element in the high nibble, and 8 inner k-tiles.
      pairs = torch.bitwise_or(torch.bitwise_left_shift(q[:, 0::2], 4), q[:, 1::2])
      return torch._convert_weight_to_int4pack(torch.to(pairs, 0), 8)
    return torch._convert_weight_to_int4pack_for_cpu(q, 1)

  # A float tensor as contiguous bfloat16: the kernels' scale format, kept as a TorchScript value on
  # the Java side (DJL 0.36 must never hold a bfloat16 array).
  def to_bf16(self: __torch__.DecoderStep,
    x: Tensor) -> Tensor:
    return torch.contiguous(torch.to(x, 15))

  # NF4 (bitsandbytes): y = x W^T for x [rows, in]. Block scales come from absmax, or from the
  # double-quantized absmax as bitsandbytes' dequantize_blockwise + offset.
  def nf4_mm(self: __torch__.DecoderStep,
    x: Tensor,
    w: List[Tensor],
    out_features: int) -> Tensor:
    packed = w[0]
    pairs = w[1]
    shape = torch.size(x)
    in_features = shape[-1]
    x = torch.reshape(x, [-1, in_features])
    blocks = torch.floordiv(out_features * in_features + 63, 64)
    if torch.len(w) == 3:
      scales = w[2]
    else:
      nested = w[3]
      nb = torch.size(nested, 0)
      codes = torch.reshape(torch.embedding(w[4], torch.to(w[2], 3)), [nb, -1])
      scales = torch.reshape(torch.add(torch.mul(codes, torch.reshape(nested, [nb, 1])), w[5]), [-1])
      if torch.numel(scales) != blocks:
        scales = torch.slice(scales, 0, 0, blocks)
    if torch.size(x, 0) == 1 and in_features % 64 == 0:
      y = self.nf4_gemv(x, packed, scales, pairs, out_features, 256)
    else:
      y = self.nf4_bands(x, packed, scales, pairs, out_features, 256)
    shape[-1] = out_features
    return torch.reshape(y, shape)

  # Several rows: dequantize a band of rows at a time, so temporaries stay small and in cache
  # instead of a full-size float copy of W per call.
  def nf4_bands(self: __torch__.DecoderStep,
    x: Tensor,
    packed: Tensor,
    scales: Tensor,
    pairs: Tensor,
    out_features: int,
    band: int) -> Tensor:
    in_features = x.size(1)
    xf = x.float()
    ys: List[Tensor] = []
    r = 0
    while r < out_features:
      r1 = min(r + band, out_features)
      b0 = r * in_features // 64
      b1 = (r1 * in_features + 63) // 64
      codes = packed[b0 * 32:b1 * 32].long()
      w = torch.embedding(pairs, codes).view(b1 - b0, 64) * scales[b0:b1].unsqueeze(1)
      first = r * in_features - b0 * 64
      w = w.view(-1)[first:first + (r1 - r) * in_features].view(r1 - r, in_features)
      ys.append(torch.matmul(xf, w.t()))
      r = r1
    return torch.cat(ys, 1).to(x.dtype)

  # A single row x [1, in] with in a multiple of 64 (a decode step). Instead of dequantizing W it
  # tabulates, for every input pair k and every byte value b,
  # L[k, b] = code(b >> 4) * x[2k] + code(b & 15) * x[2k + 1]; then each output is a sum of table
  # entries picked by its bytes, scaled per block: sum_blocks scale * sum_(k in block) L[k, byte].
  # embedding_bag sums each block's 32 picked entries without materializing them (1.7x faster than
  # index_select + sum, measured).
  def nf4_gemv(self: __torch__.DecoderStep,
    x: Tensor,
    packed: Tensor,
    scales: Tensor,
    pairs: Tensor,
    out_features: int,
    band: int) -> Tensor:
    in_features = x.size(1)
    half = in_features // 2
    xf = x[0].float()
    table = (xf[0::2].unsqueeze(1) * pairs[:, 0].unsqueeze(0) + xf[1::2].unsqueeze(1) * pairs[:, 1].unsqueeze(0)).view(-1, 1)
    offsets = (torch.arange(half, device=x.device) * 256).int()
    blocks = in_features // 64
    bags = torch.arange(0, band * half, 32, device=x.device).int()
    ys: List[Tensor] = []
    r = 0
    while r < out_features:
      r1 = min(r + band, out_features)
      p = packed[r * half:r1 * half].view(r1 - r, half)
      g, _, _, _ = torch.embedding_bag(table, (p.int() + offsets.unsqueeze(0)).view(-1), bags[:(r1 - r) * blocks],
          False, 0, False, None, False, None)
      ys.append((g.view(r1 - r, blocks) * scales[r * blocks:r1 * blocks].view(r1 - r, blocks)).sum(-1))
      r = r1
    return torch.cat(ys).unsqueeze(0).to(x.dtype)

  # RmsNorm.forward: normalized in float32, back to the compute dtype, then scaled. x * x is what
  # square() computes (pow with exponent 2), one dispatch cheaper.
  def rms_norm(self: __torch__.DecoderStep,
    x: Tensor,
    weight: Tensor,
    eps: float) -> Tensor:
    x32 = torch.to(x, 6)
    variance = torch.mean(torch.mul(x32, x32), [-1], True)
    normed = torch.div(x32, torch.sqrt(torch.add(variance, eps)))
    return torch.mul(torch.to(normed, ops.prim.dtype(x)), weight)

  # Rope.apply, x * cos + rotate_half(x) * sin, given signed_sin = [-sin1, sin2].
  def rotate(self: __torch__.DecoderStep,
    x: Tensor,
    cos: Tensor,
    signed_sin: Tensor,
    half: int) -> Tensor:
    shape = torch.size(x)
    flipped = torch.flip(torch.unflatten(x, -1, [2, half]), [-2])
    return torch.add(torch.mul(x, cos), torch.mul(torch.reshape(flipped, shape), signed_sin))
