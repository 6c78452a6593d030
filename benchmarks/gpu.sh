#!/usr/bin/env bash
# GPU benchmarks and correctness check (run by hand on a machine with a CUDA GPU).
#
#     benchmarks/gpu.sh [DATA_DIR]        (default: $DVAE_BENCH_DATA or /tmp/dvbench/data)
#
# Needs this repository's venv already installed (.venv/bin/python, torch with CUDA);
# installs nothing and downloads nothing (the sprites grid is generated into DATA_DIR on
# first use, ~20 s). Runs, each printing one table:
#   (a) benchmarks/gpu_check.py: per loss, 3 training steps on CUDA and on the CPU from
#       the same initial weights, batches and noise; loss values must agree within a
#       tolerance (exit status 1 otherwise),
#   (b) benchmarks/train.py --device cuda: training images/s per loss at batch 256, fp32
#       and the bf16 and compile variants, against the DataLoader baseline,
#   (c) benchmarks/epoch.py: one full 737,280-image sprites epoch per loss with the data
#       kept on the device (goal of issue #9: < 5 s on a data-centre GPU).
# Fails with a clear message when no CUDA device is present. Set GPU_SH_QUICK=1 for a
# shorter run (fewer steps, betaB and btcvae only in (b) and (c)).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
DATA_DIR=${1:-${DVAE_BENCH_DATA:-/tmp/dvbench/data}}

if [[ ! -x "$PY" ]]; then
    echo "error: $PWD/$PY not found: install this repository's venv first (this script installs nothing)" >&2
    exit 2
fi
if ! "$PY" - <<'EOF'
import sys
import torch
if not torch.cuda.is_available():
    print(f"error: no CUDA device: torch {torch.__version__} (built for CUDA {torch.version.cuda or 'none'}) "
          f"sees {torch.cuda.device_count()} GPU(s); run this on a machine with an NVIDIA GPU and its driver",
          file=sys.stderr)
    sys.exit(2)
print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
EOF
then
    exit 2
fi

LOSSES=VAE,betaH,betaB,factor,btcvae
STEPS=50
if [[ "${GPU_SH_QUICK:-0}" == 1 ]]; then
    LOSSES=betaB,btcvae
    STEPS=20
fi

echo
echo "== (a) correctness: CUDA against the CPU, 3 training steps per loss"
"$PY" benchmarks/gpu_check.py --device cuda --steps 3 --data-dir "$DATA_DIR"

echo
echo "== (b) training images/s on the GPU, batch 256 (engine against the DataLoader baseline)"
"$PY" benchmarks/train.py --device cuda --losses "$LOSSES" --batch-sizes 256 --variants fp32,bf16,compile \
    --steps "$STEPS" --warmup 10 --rounds 2 --data-dir "$DATA_DIR"

echo
echo "== (c) one full sprites epoch (737,280 images), data on the device"
"$PY" benchmarks/epoch.py --device cuda --losses "$LOSSES" --batch-size 256 --data-dir "$DATA_DIR"
