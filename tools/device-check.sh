#!/usr/bin/env bash
# The one prepared command for a device machine with a GPU (issue 19): MedQA's decoder step on CUDA
# against transformers on the same GPU (tools/cuda_check.py), the small shape first (about a minute),
# then Mistral-7B's, each under its own time limit so that the whole run stays near 8 minutes and a
# rerun fits in a session's 15 minutes. Nothing needs to be carried: the script and decoder_step.py
# are tracked files. Results (at most 8 files, as the device tool returns them) go to $OUT:
#   env.txt (GPU, driver, versions), tiny.json, tiny.md, 7b.json, 7b.md, log.txt
# Usage there: bash tools/device-check.sh        (OUT defaults to ./device-check)
# Not in it: the Java CLI on that machine. It has no Java, and what would have to travel does not fit:
# a jlink-ed JRE for the CLI is 39 MB and the CLI's jars without the CPU natives 26 MB, beside the 37 MB
# of this repository, against 64 MiB. What was tried instead, here: DJL's JNI for PyTorch 2.7.1 pointed
# at PyTorch 2.13's CPU libraries (PYTORCH_LIBRARY_PATH, PYTORCH_VERSION=2.7.1) loads and reads the
# checkpoint, then fails at the first forward with "set_stride is not allowed on a Tensor created from
# .data or .detach()": a JNI built for 2.7.1 does not run on a newer PyTorch as is.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-device-check}
DEVICE=${DEVICE:-cuda}   # DEVICE=cpu PRESETS=tiny: the same run on a machine without a GPU (the kit's own check)
PRESETS=${PRESETS:-tiny 7b}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  "${PYTHON:-python3}" -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)' 2>&1
} > "$OUT/env.txt"
run() { # preset, seconds
  timeout "$2" "${PYTHON:-python3}" tools/cuda_check.py --device "$DEVICE" --preset "$1" --out "$OUT/$1-dir" >> "$OUT/log.txt" 2>&1
  local rc=$?
  echo "preset $1: exit $rc" | tee -a "$OUT/log.txt"
  [ -f "$OUT/$1-dir/cuda_check.json" ] && mv "$OUT/$1-dir/cuda_check.json" "$OUT/$1.json"
  [ -f "$OUT/$1-dir/cuda_check.md" ] && mv "$OUT/$1-dir/cuda_check.md" "$OUT/$1.md"
  rmdir "$OUT/$1-dir" 2>/dev/null
  return $rc
}
for p in $PRESETS; do
  if [ "$p" = tiny ]; then run tiny 120; else run "$p" 360; fi
done
cat "$OUT"/*.md 2>/dev/null
