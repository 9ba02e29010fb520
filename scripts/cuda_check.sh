#!/usr/bin/env bash
# The CUDA paths in one short run, for a machine with an NVIDIA GPU (CI has none): device placement, bf16
# autocast, the bf16 matmul peak, NVML energy, a torchrun/NCCL session, kernel hotspots, Nsight Compute if installed, LoadGen on the GPU.
# Usage: scripts/cuda_check.sh [OUT_DIR]    (about 3-5 minutes on a datacenter GPU, setup excluded)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/cuda-check}
scripts/setup.sh
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[gpu]'   # nvidia-ml-py for NVML energy
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
A=.venv/bin/aibench
# Sessions: every runnable benchmark, tiny profile, on the GPU with bf16 autocast; energy and the peak from NVML.
$A run --suite subset --profile tiny --device cuda --precision bf16 --seed 1 --out "$OUT/run" || true
$A run C1 --profile small --device cuda --epochs 2 --seed 1 --out "$OUT/run-small" || true
# The distributed path on NCCL: torchrun with one rank per GPU (a single GPU is a group of one rank; with more
# GPUs, --nproc-per-node N), DDP-wrapped modules, rank-0 logging.
NGPU=$(nvidia-smi --list-gpus 2>/dev/null | wc -l || echo 1)
$A run --suite subset --profile tiny --device cuda --nproc-per-node "${NGPU:-1}" --epochs 1 --seed 1 \
  --out "$OUT/run-nccl" || true
# Kernel hotspots (and ncu when it is installed).
$A profile C1 C16 --profile tiny --device cuda --steps 2 --timed-steps 3 --ncu --out "$OUT/profile" || true
# LoadGen on the GPU with the small session's weights.
$A infer C1 --profile small --device cuda --checkpoint "$OUT/run-small/DC-AI-C1/run-1/weights.pt" --duration 2 \
  --out "$OUT/infer" || true
.venv/bin/python - "$OUT" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
for f in sorted(out.glob("**/result.json")) + sorted(out.glob("**/profile.json")) + sorted(out.glob("**/inference.json")):
    r = json.loads(f.read_text())
    if r["kind"] == "training":
        print(f, r["status"], r["system"]["device"], "ranks:", (r.get("distributed") or {}).get("world_size", 1), "energy:", r["energy"].get("run_j", r["energy"].get("unavailable")),
              "peak bf16:", r.get("efficiency", {}).get("peak", {}).get("bf16"), "cuda MiB:", r["metrics"]["cuda_max_allocated_mib"])
    elif r["kind"] == "profile":
        print(f, "kernels:", [k["name"][:40] for k in (r.get("kernels") or [])[:3]], "ncu:", str(r.get("gpu_counters"))[:200])
    else:
        print(f, {k: (v.get("verdict"), v.get("energy")) for k, v in r["scenarios"].items()})
EOF
