# TorchScript source of FusedDecoder, loaded as code/__torch__.py of an archive that FusedDecoder
# writes at run time (no Python involved). It repeats the op-by-op path (RmsNorm, Attention, Mlp,
# Rope) operation for operation, in the same order and dtypes, so both paths give the same logits;
# only the per-op cost differs: one interpreter instruction here against a JNI call and a Java
# NDArray per operation there.
#
# Per layer, weights holds 9 tensors in this order: input_layernorm, q_proj, k_proj, v_proj,
# o_proj, post_attention_layernorm, gate_proj, up_proj, down_proj (projections [out, in]).
# Keys and values of the T new positions are written in place into the preallocated caches
# [B, kv_heads, capacity, head_dim] at slots [start, start + T); attention reads slots
# [frm, start + T). bias is the additive float32 mask [B, 1, 1, T, keys], or an empty tensor when
# every key read is visible.
class FusedDecoder(Module):
  __parameters__ = []
  __buffers__ = []
  training : bool
  _is_full_backward_hook : Optional[bool]

  # One decode or prefill step of the whole stack: embedding, rotary tables, every layer and the
  # final norm. Returns the normalized hidden states [B, T, hidden].
  def forward(self: __torch__.FusedDecoder,
    ids: Tensor,
    positions: Tensor,
    embed: Tensor,
    cos_table: Tensor,
    sin_table: Tensor,
    bias: Tensor,
    k_caches: List[Tensor],
    v_caches: List[Tensor],
    weights: List[Tensor],
    norm: Tensor,
    start: int,
    frm: int,
    eps: float,
    scale: float) -> Tensor:
    x = torch.embedding(embed, ids)
    cos = torch.unsqueeze(torch.embedding(cos_table, positions), 1)
    sin = torch.unsqueeze(torch.embedding(sin_table, positions), 1)
    x = self.layers(x, cos, sin, bias, k_caches, v_caches, weights, start, frm, eps, scale)
    return self.rms_norm(x, norm, eps)

  # A run of consecutive layers (len(k_caches) of them) on hidden states x [B, T, hidden], with
  # cos and sin [B, 1, T, head_dim] already looked up; what the Java side calls when some layers
  # cannot be fused.
  def layers(self: __torch__.FusedDecoder,
    x: Tensor,
    cos: Tensor,
    sin: Tensor,
    bias: Tensor,
    k_caches: List[Tensor],
    v_caches: List[Tensor],
    weights: List[Tensor],
    start: int,
    frm: int,
    eps: float,
    scale: float) -> Tensor:
    b = torch.size(x, 0)
    t = torch.size(x, 1)
    hidden = torch.size(x, 2)
    d = torch.size(cos, -1)
    half = torch.floordiv(d, 2)
    end = start + t
    keys = end - frm
    masked = torch.gt(torch.numel(bias), 0)
    # rotate_half(x) * sin == flip_halves(x) * signed_sin, with signed_sin = [-sin1, sin2]: one
    # flip per rotation instead of two slices, a negation and a concatenation; exact, as only
    # signs move.
    sin = torch.cat([torch.neg(torch.slice(sin, -1, 0, half)), torch.slice(sin, -1, half)], -1)
    # Rows are tokens: projections are plain 2-D matrix products.
    x = torch.reshape(x, [b * t, hidden])
    for i in range(torch.len(k_caches)):
      w = weights[9 * i : 9 * i + 9]
      k_cache = k_caches[i]
      v_cache = v_caches[i]
      kv_heads = torch.size(k_cache, 1)
      # Attention (Attention.forward).
      n = self.rms_norm(x, w[0], eps)
      q = torch.transpose(torch.reshape(torch.linear(n, w[1]), [b, t, -1, d]), 1, 2)
      k = torch.transpose(torch.reshape(torch.linear(n, w[2]), [b, t, kv_heads, d]), 1, 2)
      v = torch.transpose(torch.reshape(torch.linear(n, w[3]), [b, t, kv_heads, d]), 1, 2)
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
      scores = torch.mul(torch.bmm(qg, torch.transpose(k, 1, 2)), scale)
      dtype = ops.prim.dtype(scores)
      # Softmax in float32 (ScalarType 6) whatever the compute dtype.
      scores = torch.to(scores, 6)
      if masked:
        scores = torch.add(torch.view(scores, [b, kv_heads, groups, t, keys]), bias)
        scores = torch.view(scores, [b * kv_heads, groups * t, keys])
      probs = torch.to(torch.softmax(scores, -1), dtype)
      out = torch.view(torch.bmm(probs, v), [b, heads, t, d])
      out = torch.reshape(torch.transpose(out, 1, 2), [b * t, heads * d])
      x = torch.add(x, torch.linear(out, w[4]))
      # SwiGLU MLP (Mlp.forward).
      n = self.rms_norm(x, w[5], eps)
      gate = torch.linear(n, w[6])
      silu = torch.mul(gate, torch.sigmoid(gate))
      x = torch.add(x, torch.linear(torch.mul(silu, torch.linear(n, w[7])), w[8]))
    return torch.view(x, [b, t, hidden])

  # RmsNorm.forward: normalized in float32, back to the compute dtype, then scaled. x * x is what
  # square() computes (pow with exponent 2), one dispatch cheaper.
  def rms_norm(self: __torch__.FusedDecoder,
    x: Tensor,
    weight: Tensor,
    eps: float) -> Tensor:
    x32 = torch.to(x, 6)
    variance = torch.mean(torch.mul(x32, x32), [-1], True)
    normed = torch.div(x32, torch.sqrt(torch.add(variance, eps)))
    return torch.mul(torch.to(normed, ops.prim.dtype(x)), weight)

  # Rope.apply, x * cos + rotate_half(x) * sin, given signed_sin = [-sin1, sin2].
  def rotate(self: __torch__.FusedDecoder,
    x: Tensor,
    cos: Tensor,
    signed_sin: Tensor,
    half: int) -> Tensor:
    shape = torch.size(x)
    flipped = torch.flip(torch.unflatten(x, -1, [2, half]), [-2])
    return torch.add(torch.mul(x, cos), torch.mul(torch.reshape(flipped, shape), signed_sin))
