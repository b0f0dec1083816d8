#!/usr/bin/env bash
# Exports a small trained network of every space nasr trains (NB201, DARTS, MobileNet, OFA) on
# MNIST and checks each with the ONNX project's tools (scripts/onnx_check.py: onnx.checker, and
# onnxruntime's classes of 256 test images against nasr's). Installs onnx and onnxruntime into a
# throwaway virtual environment.
#
#   scripts/onnx_check.sh [OUT]      (NASR_BIN: the nasr binary, default target/release/nasr)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-$(mktemp -d)}"
NASR="${NASR_BIN:-target/release/nasr}"
DATA="${NASR_DATA:?set NASR_DATA to the data folder}"
IMAGES="$DATA/mnist/t10k-images-idx3-ubyte.gz"
mkdir -p "$OUT"

python3 -m venv "$OUT/venv"
"$OUT/venv/bin/pip" install -q onnx onnxruntime numpy

small=(--data mnist --train-subset 1000 --test-subset 256 --epochs 1 --batch-size 32 --seed 0 --no-progress)
"$NASR" train --space nb201 --channels 4 --cells 1 "${small[@]}" --out "$OUT/nb201" \
  --arch '|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|' >/dev/null
"$NASR" train --space darts --channels 4 --layers 3 "${small[@]}" --out "$OUT/darts" \
  --arch "Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_5x5', 1), ('skip_connect', 0), ('sep_conv_5x5', 1), ('avg_pool_3x3', 1), ('dil_conv_3x3', 0), ('skip_connect', 0), ('max_pool_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('avg_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2), ('skip_connect', 0), ('dil_conv_3x3', 1)], reduce_concat=[2, 3, 4, 5])" >/dev/null
"$NASR" train --space mobilenet "${small[@]}" --out "$OUT/mobilenet" \
  --arch k3_e3-k5_e6-k7_e3-k3_e6-k5_e3-k7_e6 >/dev/null
"$NASR" train --space ofa "${small[@]}" --out "$OUT/ofa" \
  --arch 'r20|k3_e4-k5_e6|k7_e3-k3_e3|k3_e6-k3_e6-k5_e4|k5_e3-k5_e3|k7_e6-k7_e4' >/dev/null

args=()
for space in nb201 darts mobilenet ofa; do
  "$NASR" export "$OUT/$space" >/dev/null
  "$NASR" predict "$OUT/$space" "$IMAGES" --first 256 >"$OUT/$space/classes.txt"
  args+=("$OUT/$space/model.onnx" "$OUT/$space/classes.txt")
done
"$OUT/venv/bin/python" scripts/onnx_check.py "$IMAGES" "${args[@]}"
