#!/usr/bin/env bash
# Side-by-side time and memory of one training step (forward, cross-entropy, backward,
# grad-norm clip, Nesterov SGD update) on random data: `nasr bench train-step` against its
# PyTorch twin (bench/torch_train_step.py for nb201, bench/torch_mobilenet.py for mobilenet,
# bench/torch_ofa.py for ofa),
# same network and sizes. Prints each median (ms), nasr/pytorch and the memory each adds.
#
# Usage: bench/train_step.sh [--space nb201|mobilenet|ofa] [--mobilenet-config FILE] [--arch A]
#                            [--channels C] [--cells N] [--batch-size B] [--resolution R]
#                            [--in-channels I] [--steps S] [--warmup W]
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
    --arch | --channels | --cells | --batch-size | --resolution \
      | --in-channels | --steps | --warmup)
      (($# >= 2)) || { echo "$1 needs a value" >&2; exit 2; }
      flags+=("$1" "$2"); shift 2 ;;
    *) echo "unknown flag: $1" >&2; exit 2 ;;
  esac
done

py=${TORCH_PYTHON:-python3}
cargo build --release -q -p nasr
nasr_json=$(target/release/nasr bench train-step --json --space "$space" "${flags[@]}")
if [[ $space == mobilenet ]]; then
  torch_json=$(cd bench && "$py" torch_mobilenet.py --json --mode train "${flags[@]}")
elif [[ $space == ofa ]]; then
  torch_json=$(cd bench && "$py" torch_ofa.py --json --mode train "${flags[@]}")
else
  torch_json=$(cd bench && "$py" torch_train_step.py --json "${flags[@]}")
fi
python3 bench/compare.py "training step, $space ${flags[*]}" "train step" "$nasr_json" "$torch_json"
