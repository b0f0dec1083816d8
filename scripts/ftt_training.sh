#!/usr/bin/env bash
# Fault-tolerant training against plain training on one architecture (NB201's all-3x3-conv
# cell, C=8, N=1) on MNIST (train subset 5000, test subset 2000), over 3 seeds: each network's
# test accuracy under MiBB feature faults (nasr robustness, 5 draws per rate), and, for seed 0,
# its curves under Gaussian noise and salt-and-pepper faults.
#
# Usage: NASR_DATA=DIR scripts/ftt_training.sh OUT [RATE [GAMMA]]   (default 0.02 0.7)
# NASR_BIN=PATH uses that binary instead of building target/release/nasr.
set -euo pipefail
: "${NASR_DATA:?set NASR_DATA to the data folder}"
cd "$(dirname "$0")/.."
out=$1 rate=${2:-0.02} gamma=${3:-0.7}
if [[ -z "${NASR_BIN:-}" ]]; then
  cargo build --release -q -p nasr
  NASR_BIN=target/release/nasr
fi
nasr=$NASR_BIN
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
common=(--space nb201 --arch "$arch" --data mnist --train-subset 5000 --test-subset 2000
  --channels 8 --cells 1 --epochs 3 --no-progress)
mkdir -p "$out"
for seed in 0 1 2; do
  $nasr train "${common[@]}" --seed $seed --out "$out/plain-$seed" > "$out/plain-$seed.txt"
  $nasr train "${common[@]}" --seed $seed --fault mibb --fault-rate "$rate" --fault-gamma "$gamma" \
    --out "$out/ftt-$seed" > "$out/ftt-$seed.txt"
done
runs=("$out"/plain-{0,1,2} "$out"/ftt-{0,1,2})
$nasr robustness "${runs[@]}" --fault mibb --rates 0.005,0.01,0.02,0.03 --draws 5 --out "$out/mibb.json"
$nasr robustness "$out/plain-0" "$out/ftt-0" --fault gaussian --rates 0.25,0.5,1 --draws 5 --out "$out/gaussian.json"
$nasr robustness "$out/plain-0" "$out/ftt-0" --fault salt-pepper --rates 0.001,0.003,0.01 --draws 5 --out "$out/salt-pepper.json"
