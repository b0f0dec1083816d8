#!/usr/bin/env bash
# The whole speed comparison against PyTorch, on this machine, each measurement in its own
# process, medians of 20 steps: the NB201, MobileNet-space and OFA (largest and smallest
# sub-network) training steps, inference at batch 1 and 64, the supernet steps (NB201: single
# path, mixed, first-order DARTS; MobileNet: single path, strictly fair), evaluating the MNIST
# test set, and single ops.
#
# Usage: TORCH_PYTHON=/path/to/venv/bin/python NASR_DATA=DIR bench/suite.sh
# To compare nasr's AVX2 route on an AVX-512 machine, hold PyTorch to AVX2 in the same run:
#   NASR_KERNELS=avx2 ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2 bench/suite.sh
set -euo pipefail
cd "$(dirname "$0")/.."
py=${TORCH_PYTHON:-python3}
cargo build --release -q -p nasr
nasr=target/release/nasr

echo "== training steps =="
bench/train_step.sh
bench/train_step.sh --space mobilenet
bench/train_step.sh --space mobilenet --mobilenet-config bench/mobilenet_wide.toml
bench/train_step.sh --space ofa
bench/train_step.sh --space ofa --arch "r16|k3_e3-k3_e3|k3_e3-k3_e3|k3_e3-k3_e3|k3_e3-k3_e3|k3_e3-k3_e3"

echo; echo "== inference, NB201 C=16 N=5, 3x32x32 =="
for batch in 1 64; do
  n=$($nasr bench infer --json --batch-size "$batch")
  t=$(cd bench && "$py" torch_train_step.py --infer --json --batch-size "$batch")
  python3 bench/compare.py "batch $batch" "inference" "$n" "$t"
done

echo; echo "== supernet steps =="
bench/supernet_step.sh
bench/supernet_step.sh --space mobilenet

echo; echo "== evaluation =="
bench/eval.sh

echo; echo "== single ops =="
ops=$(mktemp)
$nasr bench ops --json > "$ops"
(cd bench && "$py" torch_ops.py --nasr "$ops")
rm -f "$ops"

echo; echo "== shared-study stores =="
bench/store_throughput.sh
