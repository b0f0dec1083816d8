#!/usr/bin/env bash
# Compares two folders written by readme_runs.sh, run by run: every file but timing.json and the
# experiment store, and stdout less the demo's wall time. A safetensors file that differs byte-wise
# but holds the same tensors value for value (a parameter rename) is counted apart, via
# same_tensors.py. Usage: compare_runs.sh A B demo train ...
A=$1; B=$2; shift 2
for run in "$@"; do
  same=0; diff=0; list=""; renamed=0; rlist=""
  while IFS= read -r f; do
    rel=${f#$A/$run/}
    case $rel in *timing.json|*.sqlite*|*.partial) continue;; esac
    if cmp -s "$f" "$B/$run/$rel"; then same=$((same+1));
    elif [[ $rel == *.safetensors ]] && python3 "$(dirname "$0")/same_tensors.py" "$f" "$B/$run/$rel" >/dev/null; then
      renamed=$((renamed+1)); rlist="$rlist $rel"
    else diff=$((diff+1)); list="$list $rel"; fi
  done < <(find $A/$run -type f)
  sa=$(sed -e "s#$A#X#g" -e 's/; [0-9]* s$//' $A/$run.stdout | md5sum | cut -c1-8); sb=$(sed -e "s#$B#X#g" -e 's/; [0-9]* s$//' $B/$run.stdout | md5sum | cut -c1-8)
  echo "$run: $same files identical, $renamed with the same tensors under other names;$rlist $diff differ;$list stdout $([ $sa = $sb ] && echo same || echo DIFFERS)"
done
