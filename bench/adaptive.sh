#!/usr/bin/env bash
# Adaptive concurrency (docs/regulation.md): one worker process, SLOTS slots, two queues. "flood"
# has a backlog that never runs out; "urgent" gets a burst of BURST jobs every second for SECONDS
# seconds. Every job is the command `sleep JOB_S`. Three ways to give the worker its SLOTS:
#   even      flood and urgent get SLOTS/2 each (static concurrency)
#   skewed    flood gets 3/4 of them, urgent 1/4 (static)
#   adaptive  [worker] slots = SLOTS shared, urgent weight 3 (each queue may take all of them)
# Prints, per way, the urgent jobs' wait (started_at - created_at): p50, p99 and max in ms, and
# how many flood jobs finished per second (docs/benchmarks.md, "Adaptive concurrency").
#   bench/adaptive.sh DATABASE_URL [SLOTS] [BURST] [SECONDS] [JOB_S]
set -euo pipefail
url=${1:?usage: bench/adaptive.sh DATABASE_URL [SLOTS] [BURST] [SECONDS] [JOB_S]}
slots=${2:-8}
burst=${3:-6}
seconds=${4:-20}
job_s=${5:-0.1}
spindle=${SPINDLE_BIN:-build/spindle}
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

run() {  # run WAY
  local way=$1 tag="adaptive_bench_${1}_$$"
  local flood="${tag}_flood" urgent="${tag}_urgent" fc uc
  case $way in
    even) fc=$((slots / 2)); uc=$((slots - slots / 2)) ;;
    skewed) fc=$((slots * 3 / 4)); uc=$((slots - slots * 3 / 4)) ;;
    adaptive) fc=$slots; uc=$slots ;;
  esac
  {
    echo "[worker]"
    [ "$way" = adaptive ] && echo "slots = $slots" && echo 'share_interval = "250ms"'
    echo "[queues.$flood]"
    echo "concurrency = $fc"
    echo "[queues.$urgent]"
    echo "concurrency = $uc"
    [ "$way" = adaptive ] && echo "weight = 3"
    for q in "$flood" "$urgent"; do
      echo "[kinds.$q]"
      echo "command = [\"sleep\", \"$job_s\"]"
      echo "queue = \"$q\""
    done
  } >"$dir/$way.toml"
  local cfg=(--database "$url" --config "$dir/$way.toml")
  local flood_n
  flood_n=$(python3 -c "print(int($slots * ($seconds + 5) / $job_s) + 100)")
  seq "$flood_n" | sed 's/.*/{}/' | "$spindle" "${cfg[@]}" enqueue --batch "$flood" >/dev/null
  "$spindle" "${cfg[@]}" serve >>"$dir/serve.log" 2>&1 &
  pid=$!
  sleep 3  # the flood is running
  local t0
  t0=$(date +%s.%N)
  for _ in $(seq "$seconds"); do
    seq "$burst" | sed 's/.*/{}/' | "$spindle" "${cfg[@]}" enqueue --batch "$urgent" >/dev/null
    sleep 1
  done
  sleep 3
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
  for q in "$flood" "$urgent"; do
    "$spindle" --database "$url" --json jobs list --queue "$q" --state completed --limit 100000 \
      >"$dir/$q.json"
    "$spindle" --database "$url" jobs cancel --queue "$q" --yes >/dev/null || true
  done
  python3 - "$dir/$flood.json" "$dir/$urgent.json" "$way" "$t0" "$seconds" <<'PY'
import datetime, json, sys
flood, urgent, way, t0, seconds = sys.argv[1:]
t0, seconds = float(t0) * 1000, int(seconds)
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000
waits = sorted(t(j["started_at"]) - t(j["created_at"]) for j in json.load(open(urgent))["jobs"])
done = sum(1 for j in json.load(open(flood))["jobs"] if t0 <= t(j["finished_at"]) < t0 + seconds * 1000)
q = lambda p: round(waits[min(len(waits) - 1, int(p * len(waits)))])
print(json.dumps({"way": way, "urgent_jobs": len(waits), "urgent_wait_p50_ms": q(0.5),
                  "urgent_wait_p99_ms": q(0.99), "urgent_wait_max_ms": round(waits[-1]),
                  "flood_jobs_per_s": round(done / seconds, 1)}))
PY
}

for way in even skewed adaptive; do run "$way"; done
