#!/usr/bin/env bash
# Side-by-side time and memory of one supernet step per mode: `nasr bench supernet-step`
# against its PyTorch twin, each mode of each framework in its own process. nb201 (twin
# bench/torch_supernet_step.py): path, mixed, darts1; mobilenet (twin bench/torch_mobilenet.py):
# path and fair (FairNAS's strictly fair step).
#
# Usage: bench/supernet_step.sh [--space nb201|mobilenet] [--mobilenet-config FILE]
#                               [--channels C] [--cells N] [--batch-size B] [--resolution R]
#                               [--in-channels I] [--steps S] [--warmup W]
# PyTorch comes from $TORCH_PYTHON (default python3), e.g. a venv with `pip install torch`.
set -euo pipefail
cd "$(dirname "$0")/.."

space=nb201
flags=()
while (($#)); do
  case "$1" in
    --space) space=$2; shift 2 ;;
    # The twin runs in bench/: it gets the file's absolute path.
    --mobilenet-config) flags+=("$1" "$(realpath "$2")"); shift 2 ;;
    --channels | --cells | --batch-size | --resolution | --in-channels \
      | --steps | --warmup)
      (($# >= 2)) || { echo "$1 needs a value" >&2; exit 2; }
      flags+=("$1" "$2"); shift 2 ;;
    *) echo "unknown flag: $1" >&2; exit 2 ;;
  esac
done

py=${TORCH_PYTHON:-python3}
cargo build --release -q -p nasr
if [[ $space == mobilenet ]]; then modes=(path fair); else modes=(path mixed darts1); fi
rows=()
for mode in "${modes[@]}"; do
  rows+=("$mode")
  rows+=("$(target/release/nasr bench supernet-step --json --space "$space" --mode "$mode" "${flags[@]}")")
  if [[ $space == mobilenet ]]; then
    rows+=("$(cd bench && "$py" torch_mobilenet.py --json --mode "$mode" "${flags[@]}")")
  else
    rows+=("$(cd bench && "$py" torch_supernet_step.py --json --mode "$mode" "${flags[@]}")")
  fi
done
python3 bench/compare.py "supernet steps, $space ${flags[*]}" "${rows[@]}"
