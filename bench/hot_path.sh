#!/usr/bin/env bash
# What a change costs ordinary jobs: two builds of `spindle` (before and after), interleaved
# pairs, each run on a fresh database of its own, `bench --phases batch,work`. Prints every run
# and, per build, the medians of the batched enqueue and of the work drain, and after ÷ before.
#   bench/hot_path.sh BEFORE_BIN AFTER_BIN TARGET [JOBS] [PAIRS]
# TARGET: `sqlite` (fresh files in a scratch folder) or a PostgreSQL URL whose role may create
# databases (one is created and dropped per run).
# Example: bench/hot_path.sh /tmp/old/spindle build/spindle sqlite 50000 10
# Each run ends by deleting its jobs (untimed). On SQLite that goes row by row, a few thousand a
# second: at 300,000 jobs a run spends minutes there.
set -euo pipefail
before=$1 after=$2 target=$3 n=${4:-50000} pairs=${5:-10}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# One run: prints "BATCH_JPS WORK_JPS".
run() {
  local bin=$1 tag=$2 url
  if [[ $target == sqlite ]]; then
    url="sqlite:$scratch/$tag.db"
  else
    psql -qAt "$target" -c "CREATE DATABASE hot_path_$tag" >/dev/null
    url="${target%/*}/hot_path_$tag"
  fi
  "$bin" --database "$url" bench --phases batch,work --n "$n" 2>/dev/null | tail -n1 |
    sed -E 's/.*"enqueue_batch_jps":([0-9.]+).*"work_jps":([0-9.]+).*/\1 \2/'
  if [[ $target == sqlite ]]; then
    rm -f "$scratch/$tag".db*
  else
    psql -qAt "$target" -c "DROP DATABASE hot_path_$tag" >/dev/null
  fi
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

: >"$scratch/before" && : >"$scratch/after"
for ((i = 1; i <= pairs; i++)); do
  # Alternate which build goes first, so neither always runs on a warmer machine.
  if ((i % 2)); then order="before after"; else order="after before"; fi
  for which in $order; do
    bin=$before; [[ $which == after ]] && bin=$after
    r=$(run "$bin" "${which}_$i")
    echo "$r" >>"$scratch/$which"
    printf 'pair %2d %-6s batch %8.0f jobs/s  work %8.0f jobs/s\n' "$i" "$which" $r
  done
done
for col in 1 2; do
  name=batch; ((col == 2)) && name=work
  b=$(cut -d' ' -f$col "$scratch/before" | median)
  a=$(cut -d' ' -f$col "$scratch/after" | median)
  printf '%-5s median before %8.0f  after %8.0f  after/before %.3f\n' "$name" "$b" "$a" \
    "$(echo "$a / $b" | bc -l)"
done
