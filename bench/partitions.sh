#!/usr/bin/env bash
# Does partitioned dispatch help? Work throughput (drain N queued no-op jobs) with 1, 2, 4 and 8
# workers, unpartitioned and partitioned, REPEATS times each, interleaved so that drift of a
# busy machine hits both alike. Prints one JSON line per run and a median table.
#   bench/partitions.sh DATABASE_URL [N] [REPEATS]
set -euo pipefail
url=${1:?usage: bench/partitions.sh DATABASE_URL [N] [REPEATS]}
n=${2:-50000}
repeats=${3:-3}
spindle=${SPINDLE_BIN:-build/spindle}
out=$(mktemp)
for r in $(seq "$repeats"); do
  for w in 1 2 4 8; do
    for mode in plain partitioned; do
      flag=""
      [[ $mode == partitioned ]] && flag=--partitioned
      line=$("$spindle" --database "$url" bench --phases batch,work --n "$n" --workers "$w" $flag)
      echo "$line"
      echo "$w $mode $(echo "$line" | sed -E 's/.*"work_jps":([0-9.]+).*/\1/')" >>"$out"
    done
  done
done
echo
echo "workers  unpartitioned  partitioned  ratio (median jobs/s of $repeats runs, N=$n)"
for w in 1 2 4 8; do
  med() { grep "^$w $1 " "$out" | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  p=$(med plain)
  q=$(med partitioned)
  printf "%7s  %13.0f  %11.0f  %5.2f\n" "$w" "$p" "$q" "$(awk -v a="$q" -v b="$p" 'BEGIN {print a / b}')"
done
rm -f "$out"
