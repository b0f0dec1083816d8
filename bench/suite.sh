#!/usr/bin/env bash
# The whole speed comparison against PyTorch, on this machine: the NB201 training step,
# inference at batch 1 and 64, the supernet steps (single path, mixed, first-order DARTS), and
# single ops. Each measurement runs in its own process.
#
# Usage: TORCH_PYTHON=/path/to/venv/bin/python bench/suite.sh
set -euo pipefail
cd "$(dirname "$0")/.."
py=${TORCH_PYTHON:-python3}
cargo build --release -q -p nasr
nasr=target/release/nasr

echo "== training step =="
bench/train_step.sh

echo; echo "== inference, NB201 C=16 N=5, 3x32x32 =="
for batch in 1 64; do
  n=$($nasr bench infer --json --batch-size "$batch")
  t=$("$py" bench/torch_train_step.py --infer --json --batch-size "$batch")
  python3 - "$batch" "$n" "$t" <<'PY'
import json, sys
batch, n, t = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"batch {batch:>2}: nasr {n['median_ms']:8.2f} ms  pytorch {t['median_ms']:8.2f} ms  "
      f"ratio {n['median_ms'] / t['median_ms']:.2f}")
PY
done

echo; echo "== supernet steps =="
bench/supernet_step.sh --steps 5 --warmup 1

echo; echo "== single ops =="
ops=$(mktemp)
$nasr bench ops --json > "$ops"
"$py" bench/torch_ops.py --nasr "$ops"
rm -f "$ops"
