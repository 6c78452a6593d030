#!/usr/bin/env bash
# The README's TensorBoard screenshot (run by hand): a quickstart run with --tracker tensorboard,
# TensorBoard on it, and a headless Chromium (apt install chromium) taking the Scalars tab.
#   bash benchmarks/tensorboard_screenshot.sh [OUTPUT.png]
set -euo pipefail
out=$(realpath -m "${1:-docs/tensorboard-quickstart.png}")
work=$(mktemp -d)
.venv/bin/dvae train quickstart --tracker tensorboard --results-dir "$work/results"
.venv/bin/tensorboard --logdir "$work/results" --port 6006 --host 127.0.0.1 > "$work/tb.log" 2>&1 &
tb=$!
trap 'kill $tb' EXIT
until curl -sf -o /dev/null http://127.0.0.1:6006/; do sleep 1; done
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,780 \
  --virtual-time-budget=40000 --screenshot="$out" \
  "http://127.0.0.1:6006/?darkMode=false#scalars&tagFilter=train%2F(loss%7Crecon_loss%7Ckl_loss%7Ctc_loss)%24&_smoothingWeight=0"
echo "wrote $out"
