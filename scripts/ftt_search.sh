#!/usr/bin/env bash
# FTT-NAS on MNIST in the NB201 space (C=8, N=1 supernet; train subset 5000, test subset 2000):
#  1. under MiBB feature faults at p = 0.02 per element: the FTT-NAS pick against (a) DARTS's
#     pick and (b) RSWS's pick (random search with weight sharing), both searched without
#     faults on the same data and supernet budget, and (c) NB201's all-3x3-conv cell;
#  2. under adSAF weight faults (per-bit 0.1): the FTT-NAS pick against (c).
# Every network is retrained with the same fault-tolerant recipe (the search's faults, gamma
# 0.7, 3 epochs) at a C that brings its parameters nearest the all-3x3 cell's at C=8 (all within
# 20%), then tested clean and under faults (5 draws per rate, nasr robustness). A plainly
# trained all-3x3 cell is measured beside them.
#
# Usage: NASR_DATA=DIR scripts/ftt_search.sh OUT [SEEDS]   (default seeds "0")
# NASR_BIN=PATH uses that binary instead of building target/release/nasr.
set -euo pipefail
: "${NASR_DATA:?set NASR_DATA to the data folder}"
cd "$(dirname "$0")/.."
out=$1 seeds=${2:-0}
if [[ -z "${NASR_BIN:-}" ]]; then
  cargo build --release -q -p nasr
  NASR_BIN=target/release/nasr
fi
nasr=$NASR_BIN
all3x3='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
data=(--data mnist --train-subset 5000)
supernet=(--channels 8 --cells 1 --epochs 6 --no-progress)
mibb=(--fault mibb --fault-rate 0.02)
adsaf=(--fault adsaf --fault-rate 0.1)
mkdir -p "$out"

# The parameters of NB201 cell $1 at C=$2 (a one-epoch run on 200 images).
params_at() {
  local dir
  dir=$(mktemp -d)
  $nasr train --space nb201 --arch "$1" --channels "$2" --cells 1 --data mnist \
    --train-subset 200 --test-subset 100 --epochs 1 --no-progress --out "$dir" > /dev/null
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['parameters'])" "$dir/metrics.json"
  rm -rf "$dir"
}

# The C (4..40) whose parameter count for cell $1 is nearest $2.
matching_channels() {
  local best_c=8 best_gap=-1 c p gap
  for c in $(seq 4 2 40); do
    p=$(params_at "$1" "$c")
    gap=$(( p > $2 ? p - $2 : $2 - p ))
    if (( best_gap < 0 || gap < best_gap )); then best_c=$c best_gap=$gap; fi
    (( p > $2 )) && break
  done
  echo "$best_c"
}

# The searched cell of run folder $1 (best.json's arch).
pick() {
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['best']['arch'] if 'best' in d else d['arch'])" "$1/best.json"
}

echo "== searches (seed 0)"
[[ -f $out/ftt-mibb/best.json ]] || $nasr search --strategy ftt "${data[@]}" "${supernet[@]}" \
  "${mibb[@]}" --queries 60 --retrain-epochs 0 --out "$out/ftt-mibb" > "$out/ftt-mibb.txt"
[[ -f $out/ftt-adsaf/best.json ]] || $nasr search --strategy ftt "${data[@]}" "${supernet[@]}" \
  "${adsaf[@]}" --queries 60 --retrain-epochs 0 --out "$out/ftt-adsaf" > "$out/ftt-adsaf.txt"
[[ -f $out/darts/best.json ]] || $nasr search --strategy darts --space nb201 "${data[@]}" \
  "${supernet[@]}" --retrain-epochs 0 --out "$out/darts" > "$out/darts.txt"
[[ -f $out/rsws/best.json ]] || $nasr search --strategy rsws "${data[@]}" "${supernet[@]}" \
  --candidates 60 --out "$out/rsws" > "$out/rsws.txt"

declare -A cells=(
  [ftt]="$(pick "$out/ftt-mibb")"
  [ftt-adsaf]="$(pick "$out/ftt-adsaf")"
  [darts]="$(pick "$out/darts")"
  [rsws]="$(pick "$out/rsws")"
  [all3x3]="$all3x3"
)
target=$(params_at "$all3x3" 8)
: > "$out/widths.txt"
for name in "${!cells[@]}"; do
  c=$(matching_channels "${cells[$name]}" "$target")
  echo "$name C=$c params=$(params_at "${cells[$name]}" "$c") (all-3x3 at C=8: $target) ${cells[$name]}" \
    | tee -a "$out/widths.txt"
  declare "width_${name//-/_}=$c"
done

retrain() { # name arch C seed fault-flags...
  local name=$1 arch=$2 c=$3 seed=$4
  shift 4
  [[ -f $out/$name-$seed/metrics.json ]] && return
  $nasr train --space nb201 --arch "$arch" --channels "$c" --cells 1 "${data[@]}" \
    --test-subset 2000 --epochs 3 --seed "$seed" --no-progress "$@" --out "$out/$name-$seed" \
    > "$out/$name-$seed.txt"
}

echo "== retraining"
for seed in $seeds; do
  for name in ftt darts rsws all3x3; do
    var="width_${name//-/_}"
    retrain "mibb-$name" "${cells[$name]}" "${!var}" "$seed" "${mibb[@]}" --fault-gamma 0.7
  done
  retrain plain-all3x3 "$all3x3" "$width_all3x3" "$seed"
  retrain adsaf-ftt "${cells[ftt-adsaf]}" "$width_ftt_adsaf" "$seed" "${adsaf[@]}" --fault-gamma 0.7
  retrain adsaf-all3x3 "$all3x3" "$width_all3x3" "$seed" "${adsaf[@]}" --fault-gamma 0.7
done

echo "== robustness"
mibb_runs=() adsaf_runs=()
for seed in $seeds; do
  mibb_runs+=("$out"/mibb-{ftt,darts,rsws,all3x3}-"$seed" "$out/plain-all3x3-$seed")
  adsaf_runs+=("$out"/adsaf-{ftt,all3x3}-"$seed" "$out/plain-all3x3-$seed")
done
$nasr robustness "${mibb_runs[@]}" --fault mibb --rates 0.005,0.01,0.02,0.03 --draws 5 --out "$out/mibb.json"
$nasr robustness "${mibb_runs[@]}" --fault gaussian --rates 0.25,0.5,1 --draws 5 --out "$out/gaussian.json"
$nasr robustness "${mibb_runs[@]}" --fault salt-pepper --rates 0.001,0.003,0.01 --draws 5 --out "$out/salt-pepper.json"
$nasr robustness "${adsaf_runs[@]}" --fault adsaf --rates 0.02,0.05,0.1 --draws 5 --out "$out/adsaf.json"

python3 - "$out" <<'EOF'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
for model in ["mibb", "gaussian", "salt-pepper", "adsaf"]:
    curves = json.load(open(out / f"{model}.json"))
    print(f"\n{model}: run | params | clean | " + " | ".join(str(p["rate"]) for p in curves[0]["points"]))
    for c in curves:
        params = json.load(open(pathlib.Path(c["run"]) / "metrics.json"))["parameters"]
        cells = " | ".join(f'{100*p["accuracy"]["mean"]:.2f} +- {100*p["accuracy"]["sd"]:.2f}' for p in c["points"])
        print(f'{pathlib.Path(c["run"]).name} | {params} | {100*c["clean_accuracy"]:.2f} | {cells}')
EOF
