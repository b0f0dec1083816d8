#!/usr/bin/env bash
# Side-by-side time of one NB201 training step (forward, cross-entropy, backward, grad-norm
# clip, Nesterov SGD update) on random data: `nasr bench train-step` against its PyTorch twin
# bench/torch_train_step.py, same network and sizes. Prints each median (ms) and nasr/pytorch.
#
# Usage: bench/train_step.sh [--channels C] [--cells N] [--batch-size B] [--resolution R]
#                            [--in-channels I] [--steps S] [--warmup W]
# PyTorch comes from $TORCH_PYTHON (default python3), e.g. a venv with `pip install torch`.
set -euo pipefail
cd "$(dirname "$0")/.."

flags=()
while (($#)); do
  case "$1" in
    --channels | --cells | --batch-size | --resolution | --in-channels | --steps | --warmup)
      (($# >= 2)) || { echo "$1 needs a value" >&2; exit 2; }
      flags+=("$1" "$2"); shift 2 ;;
    *) echo "unknown flag: $1" >&2; exit 2 ;;
  esac
done

py=${TORCH_PYTHON:-python3}

nasr_json=$(cargo run --release -q -p nasr -- bench train-step --json "${flags[@]}")
torch_json=$("$py" bench/torch_train_step.py --json "${flags[@]}")

python3 - "$nasr_json" "$torch_json" <<'EOF'
import json, sys
rows = [json.loads(s.strip().splitlines()[-1]) for s in sys.argv[1:]]
c = rows[0]["config"]
print(f"NB201 C={c['channels']} N={c['cells']}, batch {c['batch_size']}x{c['in_channels']}"
      f"x{c['resolution']}x{c['resolution']}, median of {c['steps']} steps")
print(f"{'framework':<24} {'median ms':>10} {'min ms':>10} {'peak RSS MiB':>13}")
for r in rows:
    print(f"{r['framework']:<24} {r['median_ms']:>10.1f} {r['min_ms']:>10.1f} {r.get('peak_rss_mib') or 0:>13.1f}")
print(f"nasr/pytorch (median): {rows[0]['median_ms'] / rows[1]['median_ms']:.2f}")
EOF
