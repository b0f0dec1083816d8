#!/usr/bin/env bash
# DNA at two multiply-add budgets on MNIST (train subset 5000: 4500 train / 500 validation,
# the full test set), over seeds: each DNA pick retrained from scratch, beside a random
# architecture within the same budget retrained the same way. Prints one line per run and
# the mean +- sd per budget. The teacher is spaces/dna-teacher.toml, trained once.
#
# Usage: NASR_DATA=DIR scripts/dna_budgets.sh OUT [BUDGET ...]   (default 3500000 6000000)
set -euo pipefail
: "${NASR_DATA:?set NASR_DATA to the data folder}"
cd "$(dirname "$0")/.."
out=$1; shift
budgets=("${@:-3500000 6000000}"); budgets=(${budgets[@]})
nasr=target/release/nasr
cargo build --release -q -p nasr
common=(--data mnist --train-subset 5000 --batch-size 64 --no-progress)
epochs=4 block_epochs=4
mkdir -p "$out"
[[ -f $out/teacher/metrics.json ]] || $nasr train -c spaces/dna-teacher.toml "${common[@]}" \
  --epochs 4 --seed 0 --out "$out/teacher" > "$out/teacher.txt"
for seed in 0 1 2; do
  for budget in "${budgets[@]}"; do
    run=$out/dna-$budget-$seed
    # The blocks and score tables depend on the seed, not the budget: reuse the first budget's.
    first=$out/dna-${budgets[0]}-$seed
    if [[ $run != "$first" && ! -d $run ]]; then mkdir -p "$run"; cp -r "$first/blocks" "$first/scores" "$run/"; fi
    $nasr search --strategy dna --teacher "$out/teacher" --max-flops "$budget" \
      --block-epochs $block_epochs --epochs $epochs --seed $seed "${common[@]}" --out "$run" > "$run.txt"
    arch=$(python3 scripts/random_mobilenet_arch.py --max-flops "$budget" --seed $seed)
    $nasr train --space mobilenet --arch "$arch" --epochs $epochs --seed $seed "${common[@]}" \
      --out "$out/random-$budget-$seed" > "$out/random-$budget-$seed.txt"
  done
done
python3 - "$out" "${budgets[@]}" <<'PY'
import json, statistics, sys
out, budgets = sys.argv[1], sys.argv[2:]
for budget in budgets:
    rows = {"dna": [], "random": []}
    for seed in range(3):
        dna = json.load(open(f"{out}/dna-{budget}-{seed}/best.json"))
        rnd = json.load(open(f"{out}/random-{budget}-{seed}/metrics.json"))
        assert dna["flops"] <= int(budget) and rnd["flops"] <= int(budget)
        rows["dna"].append(dna["test_accuracy"]); rows["random"].append(rnd["test_accuracy"])
        print(f"budget {budget} seed {seed}: dna {dna['arch']} {dna['flops']} MACs test "
              f"{dna['test_accuracy']:.4f} | random {rnd['arch']} {rnd['flops']} MACs test "
              f"{rnd['test_accuracy']:.4f}")
    for name, accs in rows.items():
        print(f"budget {budget} {name}: test {100*statistics.mean(accs):.2f} +- "
              f"{100*statistics.stdev(accs):.2f}")
PY
