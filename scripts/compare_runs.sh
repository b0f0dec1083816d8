#!/usr/bin/env bash
# Compares two folders written by readme_runs.sh, run by run: every file but timing.json and the
# experiment store, and stdout less the demo's wall time. Usage: compare_runs.sh A B demo train ...
A=$1; B=$2; shift 2
for run in "$@"; do
  same=0; diff=0; list=""
  while IFS= read -r f; do
    rel=${f#$A/$run/}
    case $rel in *timing.json|*.sqlite*|*.partial) continue;; esac
    if cmp -s "$f" "$B/$run/$rel"; then same=$((same+1)); else diff=$((diff+1)); list="$list $rel"; fi
  done < <(find $A/$run -type f)
  sa=$(sed -e "s#$A#X#g" -e 's/; [0-9]* s$//' $A/$run.stdout | md5sum | cut -c1-8); sb=$(sed -e "s#$B#X#g" -e 's/; [0-9]* s$//' $B/$run.stdout | md5sum | cut -c1-8)
  echo "$run: $same files identical, $diff differ;$list stdout $([ $sa = $sb ] && echo same || echo DIFFERS)"
done
