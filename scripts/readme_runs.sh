#!/usr/bin/env bash
# Reruns the README's commands with the nasr binary $1 into folder $2 (one run folder, stdout and
# wall time per command), for before/after comparisons of a refactor; names the commands to run
# after the two paths, e.g. `scripts/readme_runs.sh target/release/nasr /tmp/after demo train`.
set -u
BIN=$1; OUT=$2; shift 2
: "${NASR_DATA:?set NASR_DATA to the data folder}"
mkdir -p $OUT
run() { name=$1; shift; rm -rf $OUT/$name; start=$(date +%s.%N);
  "$BIN" "$@" --out $OUT/$name > $OUT/$name.stdout 2> $OUT/$name.stderr; rc=$?
  end=$(date +%s.%N); echo "$name rc=$rc $(echo "$end - $start" | bc) s" >> $OUT/times.txt; }
for job in "$@"; do case $job in
demo) run demo demo --no-progress;;
train) run train train --space nb201 --arch '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|' --data mnist --epochs 1 --channels 8 --cells 1 --batch-size 64 --seed 0;;
mobilenet) run mobilenet train --space mobilenet --arch k3_e3-k5_e6-k7_e3-k3_e6-k5_e3-k7_e6 --data mnist --train-subset 10000 --epochs 1 --seed 0;;
rea) run rea search --space nb201 --strategy rea --evaluator nb201 --queries 100 --seed 0;;
rsws) run rsws search --space nb201 --strategy rsws --data mnist --train-subset 10000 --epochs 2 --channels 8 --cells 1 --candidates 20 --seed 0;;
asha) run asha search --space nb201 --strategy asha --data mnist --train-subset 3000 --channels 4 --cells 1 --min-epochs 1 --max-epochs 4 --eta 2 --queries 16 --workers 2 --seed 0;;
compare) run compare compare --methods rs,rsws,asha --seeds 3 --data sklearn-digits;;
rankeval) run rankeval rank-eval --space nb201 --data mnist --train-subset 6000 --archs 8 --epochs 1 --supernet-epochs 2 --seed 0;;
fairnas) run fairnas search --space mobilenet --strategy fairnas --data mnist --train-subset 5000 --epochs 1 --queries 60 --seed 0;;
darts) run darts search --space nb201 --strategy darts --order 1 --data mnist --train-subset 4000 --test-subset 2000 --epochs 4 --alpha-lr 3e-3 --retrain-epochs 1 --retrain-subset 20000 --seed 0;;
dartsspace) run dartsspace search --space darts --strategy darts --data mnist --train-subset 1000 --test-subset 2000 --epochs 3 --channels 4 --layers 4 --batch-size 32 --alpha-lr 3e-3 --retrain-epochs 1 --retrain-subset 10000 --seed 0;;
fairrank-small) run fairrank-small rank-eval --space mobilenet --data mnist --train-subset 2000 --test-subset 500 --archs 4 --seeds 1 --epochs 1 --supernet-epochs 1 --seed 0;;
darts2-small) run darts2-small search --space nb201 --strategy darts --order 2 --data mnist --train-subset 1000 --test-subset 1000 --epochs 1 --alpha-lr 3e-3 --retrain-epochs 1 --retrain-subset 2000 --seed 0;;
esac; done
"$BIN" bench nb201 --strategy rs,rea,reinforce --queries 100 --runs 500 --seed 0 --json > $OUT/bench-nb201.json 2>&1
echo done >> $OUT/times.txt
