#!/usr/bin/env bash
# `spindle enqueue KIND --batch` against the library's batched enqueue (`spindle bench --phases
# batch`), same database, same batch size, alternating runs. The command's figure is its whole
# run (start, reading and checking the lines, inserting). Prints one line per pair.
#   bench/cli_batch.sh DATABASE_URL [JOBS] [PAIRS]
# Example: bench/cli_batch.sh sqlite:/tmp/scratch.db 100000 3
set -euo pipefail
cd "$(dirname "$0")/.."
url=$1 n=${2:-100000} pairs=${3:-3}
bin=build/spindle
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
seq 1 "$n" | sed 's/.*/{"n":&,"to":"user&@example.com"}/' >"$lines"
for ((i = 1; i <= pairs; i++)); do
  lib=$("$bin" --database "$url" bench --phases batch --n "$n" --batch 1000 |
    sed -E 's/.*"enqueue_batch_jps":([0-9.]+).*/\1/')
  # The whole command, reading and checking every line included.
  start=$(date +%s.%N)
  "$bin" --database "$url" enqueue bench_cli --queue "cli-batch-$i" --batch --batch-size 1000 \
    <"$lines" >/dev/null
  cli=$(echo "$n / ($(date +%s.%N) - $start)" | bc -l)
  "$bin" --database "$url" jobs cancel --queue "cli-batch-$i" --yes >/dev/null
  "$bin" --database "$url" jobs delete --queue "cli-batch-$i" --yes >/dev/null
  printf 'pair %d: library %.0f jobs/s, cli --batch %.0f jobs/s, ratio %.2f\n' "$i" "$lib" "$cli" \
    "$(echo "$cli / $lib" | bc -l)"
done
