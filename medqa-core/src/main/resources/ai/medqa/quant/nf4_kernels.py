# TorchScript source of the NF4 kernels, loaded as code/__torch__.py of an archive written at run
# time (no Python involved). Weights stay 4-bit: packed bytes [n / 2] (bitsandbytes' order, the even
# element in the high nibble), one float32 scale per block of 64, and the 256-entry table pairs that
# maps a byte to its two code values. Both kernels dequantize a band of rows at a time, so the
# temporaries stay small and in cache instead of a full-size float copy of W per call.
class Nf4Kernels(Module):
  __parameters__ = []
  __buffers__ = []
  training : bool
  _is_full_backward_hook : Optional[bool]

  # y = x W^T for x [rows_x, in] (any float dtype; the result has x's dtype).
  def forward(self: __torch__.Nf4Kernels,
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

  # y = x W^T for a single row x [1, in] with in a multiple of 64 (a decode step). Instead of
  # dequantizing W it tabulates, for every input pair k and every byte value b,
  # L[k, b] = code(b >> 4) * x[2k] + code(b & 15) * x[2k + 1]; then each output is a sum of table
  # entries picked by its bytes, scaled per block: sum_blocks scale * sum_(k in block) L[k, byte].
  def gemv(self: __torch__.Nf4Kernels,
    x: Tensor,
    packed: Tensor,
    scales: Tensor,
    pairs: Tensor,
    out_features: int,
    band: int) -> Tensor:
    in_features = x.size(1)
    half = in_features // 2
    xf = x[0].float()
    table = (xf[0::2].unsqueeze(1) * pairs[:, 0].unsqueeze(0) + xf[1::2].unsqueeze(1) * pairs[:, 1].unsqueeze(0)).view(-1)
    offsets = (torch.arange(half, device=x.device) * 256).int()
    blocks = in_features // 64
    ys: List[Tensor] = []
    r = 0
    while r < out_features:
      r1 = min(r + band, out_features)
      p = packed[r * half:r1 * half].view(r1 - r, half)
      picked = torch.index_select(table, 0, (p.int() + offsets.unsqueeze(0)).view(-1))
      g = picked.view(r1 - r, blocks, 32).sum(-1)
      ys.append((g * scales[r * blocks:r1 * blocks].view(r1 - r, blocks)).sum(-1))
      r = r1
    return torch.cat(ys).unsqueeze(0).to(x.dtype)
