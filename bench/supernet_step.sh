#!/usr/bin/env bash
# Side-by-side time and peak memory of one NB201 supernet step, per mode (path, mixed,
# darts1): `nasr bench supernet-step` against its PyTorch twin bench/torch_supernet_step.py,
# each mode of each framework in its own process. Prints a table with nasr/pytorch ratios.
#
# Usage: bench/supernet_step.sh [--channels C] [--cells N] [--batch-size B] [--resolution R]
#                               [--in-channels I] [--steps S] [--warmup W]
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
cargo build --release -q -p nasr
rows=()
for mode in path mixed darts1; do
  rows+=("$(target/release/nasr bench supernet-step --json --mode "$mode" "${flags[@]}")")
  rows+=("$(cd bench && "$py" torch_supernet_step.py --json --mode "$mode" "${flags[@]}")")
done

python3 - "${rows[@]}" <<'PY'
import json, sys
rows = [json.loads(s.strip().splitlines()[-1]) for s in sys.argv[1:]]
b = rows[0]
print(f"NB201 supernet C={b['channels']} N={b['cells']}, batch {'x'.join(map(str, b['batch']))}, "
      f"median of {b['steps']} steps")
print(f"{'mode':<8} {'nasr ms':>9} {'torch ms':>9} {'ratio':>6} {'nasr MiB':>9} {'torch MiB':>10}")
for nasr, torch in zip(rows[0::2], rows[1::2]):
    print(f"{nasr['mode']:<8} {nasr['median_ms']:>9.1f} {torch['median_ms']:>9.1f} "
          f"{nasr['median_ms'] / torch['median_ms']:>6.2f} {nasr['peak_rss_mib']:>9.0f} "
          f"{torch['peak_rss_mib']:>10.0f}")
PY
