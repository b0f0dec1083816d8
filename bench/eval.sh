#!/usr/bin/env bash
# Side-by-side time and memory of evaluating a MobileNet-space network on the 10,000 MNIST
# test images (evaluation mode; PyTorch under torch.no_grad()), batches of --batch-size
# (default 500): `nasr bench eval` against bench/torch_mobilenet.py --mode eval. Both read
# MNIST from $NASR_DATA/mnist and convert and normalise each batch inside the timed pass.
#
# Usage: NASR_DATA=DIR bench/eval.sh [--arch A] [--batch-size B] [--passes P] [--warmup W]
set -euo pipefail
cd "$(dirname "$0")/.."

flags=()
while (($#)); do
  case "$1" in
    --arch | --batch-size | --passes | --warmup)
      (($# >= 2)) || { echo "$1 needs a value" >&2; exit 2; }
      flags+=("$1" "$2"); shift 2 ;;
    *) echo "unknown flag: $1" >&2; exit 2 ;;
  esac
done

py=${TORCH_PYTHON:-python3}
cargo build --release -q -p nasr
nasr_json=$(target/release/nasr bench eval --json --space mobilenet --dataset mnist "${flags[@]}")
torch_json=$(cd bench && "$py" torch_mobilenet.py --json --mode eval "${flags[@]}")
python3 bench/compare.py "evaluation of the MNIST test set, MobileNet ${flags[*]}" \
  "10,000 test images" "$nasr_json" "$torch_json"
