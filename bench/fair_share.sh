#!/usr/bin/env bash
# What does a small tenant wait behind a big tenant's backlog, with fair shares and without?
# For each of three runs, serves a queue of its own (CONCURRENCY slots, each job a command that
# sleeps JOB_MS): "alone" (the small tenant's SMALL jobs and nothing else), "fifo" (BIG jobs of
# the big tenant enqueued first, then the small tenant's) and "fair" (the same, with
# fair_key = "tenant"). Prints the small tenant's waits (started_at - created_at), p50 and max,
# in ms (docs/benchmarks.md, "Fair shares").
#   bench/fair_share.sh DATABASE_URL [BIG] [SMALL] [CONCURRENCY] [JOB_MS]
set -euo pipefail
url=${1:?usage: bench/fair_share.sh DATABASE_URL [BIG] [SMALL] [CONCURRENCY] [JOB_MS]}
big=${2:-1000}
small=${3:-20}
concurrency=${4:-4}
job_ms=${5:-50}
spindle=${SPINDLE_BIN:-build/spindle}
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
sleep_s=$(python3 -c "print($job_ms / 1000)")

run() {  # run MODE BIG_JOBS
  local mode=$1 n_big=$2 queue="fair_bench_${1}_$$"
  {
    echo "[queues.$queue]"
    echo "concurrency = $concurrency"
    [ "$mode" = fair ] && echo 'fair_key = "tenant"'
    echo "[kinds.$queue]"
    echo "command = [\"sleep\", \"$sleep_s\"]"
    echo "queue = \"$queue\""
  } >"$dir/$mode.toml"
  local cfg=(--database "$url" --config "$dir/$mode.toml")
  "$spindle" "${cfg[@]}" serve >>"$dir/serve.log" 2>&1 &
  pid=$!
  sleep 2  # the worker records its queue's settings (fair or not) as it starts
  if [ "$n_big" -gt 0 ]; then
    seq "$n_big" | sed 's/.*/{"tenant":"big"}/' |
      "$spindle" "${cfg[@]}" enqueue --batch "$queue" >/dev/null
    sleep 1  # the backlog is being worked on when the small tenant comes
  fi
  seq "$small" | sed 's/.*/{"tenant":"small"}/' |
    "$spindle" "${cfg[@]}" enqueue --batch "$queue" >/dev/null
  local done=0
  for _ in $(seq 1200); do
    done=$("$spindle" --database "$url" --json jobs list --queue "$queue" --state completed \
             --limit 100000 | python3 -c "
import json, sys
print(sum(1 for j in json.load(sys.stdin)['jobs'] if j['args'].get('tenant') == 'small'))")
    [ "$done" -ge "$small" ] && break
    sleep 0.5
  done
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
  "$spindle" --database "$url" --json jobs list --queue "$queue" --state completed \
    --limit 100000 >"$dir/$mode.json"
  "$spindle" --database "$url" jobs cancel --queue "$queue" --yes >/dev/null || true
  python3 - "$dir/$mode.json" "$mode" "$n_big" "$small" <<'PY'
import datetime, json, sys
path, mode, n_big, n_small = sys.argv[1:]
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000
waits = sorted(t(j["started_at"]) - t(j["created_at"])
               for j in json.load(open(path))["jobs"] if j["args"].get("tenant") == "small")
print(json.dumps({"mode": mode, "big": int(n_big), "small": len(waits),
                  "p50_wait_ms": round(waits[len(waits) // 2]),
                  "max_wait_ms": round(waits[-1])}))
PY
}

run alone 0
run fifo "$big"
run fair "$big"
