#!/usr/bin/env bash
# Throughput of the shared-study stores: asks + tells per second of `nasr worker` processes on
# one study (REA over the NAS-Bench-201 table, whose evaluations take microseconds, so the
# store is all that is measured), with 1, 2 and 4 workers, on a throwaway PostgreSQL 15 server
# (scripts/pg_test_server.sh) and on a shared SQLite file; and, for scale, the same search in
# one process (`nasr search`, the run folder's SQLite store). Wall time from the first worker's
# start to the last one's exit, process starts included.
#
# Usage: NASR_DATA=DIR bench/store_throughput.sh [TRIALS]   (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-1000}
cargo build --release -q -p nasr
nasr=$PWD/target/release/nasr
tmp=$(mktemp -d)
chmod 755 "$tmp"
eval "$(scripts/pg_test_server.sh start "$tmp/pg" 54339)"
trap 'scripts/pg_test_server.sh stop "$tmp/pg" || true; rm -rf "$tmp"' EXIT
printf 'method = "table"\nstrategy = "rea"\nqueries = %d\nseed = 0\n' "$trials" >"$tmp/rea.toml"

rate() { python3 -c "import sys; print(f'{$trials / ($2 - $1):.0f}')" ; }

echo "| store | workers | trials/s |"
echo "|---|---:|---:|"
for store in postgresql sqlite; do
  for workers in 1 2 4; do
    if [ "$store" = postgresql ]; then url=$NASR_TEST_POSTGRES; else url="sqlite:$tmp/studies.sqlite"; fi
    name="bench-$workers"
    "$nasr" study create --storage "$url" --name "$name" -c "$tmp/rea.toml" >/dev/null
    start=$(date +%s.%N)
    for _ in $(seq "$workers"); do
      NASR_STORAGE="$url" "$nasr" worker --study "$name" >/dev/null &
    done
    wait
    end=$(date +%s.%N)
    echo "| $store | $workers | $(rate "$start" "$end") |"
  done
done
start=$(date +%s.%N)
"$nasr" search -c "$tmp/rea.toml" --no-progress --out "$tmp/single" >/dev/null
end=$(date +%s.%N)
echo "| sqlite run folder (nasr search, one process) | 1 | $(rate "$start" "$end") |"
