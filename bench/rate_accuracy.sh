#!/usr/bin/env bash
# How accurately does a rate limit hold under a backlog? Enqueues more jobs than the rate lets
# start in SECONDS, serves them with WORKERS worker processes under `rate = "RATE"` on a queue of
# their own, and counts the starts (started_at) within SECONDS of the first: the ratio to what the
# rate allows should be 1 (docs/benchmarks.md, "Rate limits"). Also prints the most starts seen in
# any span of the rate's window, which must not exceed N.
#   bench/rate_accuracy.sh DATABASE_URL [RATE] [WORKERS] [SECONDS]
set -euo pipefail
url=${1:?usage: bench/rate_accuracy.sh DATABASE_URL [RATE] [WORKERS] [SECONDS]}
rate=${2:-50/1s}
workers=${3:-1}
seconds=${4:-60}
spindle=${SPINDLE_BIN:-build/spindle}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
queue="rate_bench_$$"
cat >"$dir/spindle.toml" <<TOML
[queues.$queue]
concurrency = 20
rate = "$rate"

[kinds.$queue]
command = ["true"]
queue = "$queue"
TOML
per_ms=$(python3 -c "
import re, sys
n, per = sys.argv[1].split('/')
units = {'ms': 1, 's': 1000, 'm': 60000, 'h': 3600000}
per = per if per[0].isdigit() else '1' + per
print(sum(int(v) * units[u] for v, u in re.findall(r'(\d+)(ms|s|m|h)', per)))" "$rate")
cap=${rate%%/*}
n=$((cap * (seconds * 1000 / per_ms + 2) * 3 / 2))
cfg=(--database "$url" --config "$dir/spindle.toml")
seq "$n" | sed 's/.*/{}/' | "$spindle" "${cfg[@]}" enqueue --batch "$queue" >/dev/null
pids=()
for _ in $(seq "$workers"); do
  "$spindle" "${cfg[@]}" serve >>"$dir/serve.log" 2>&1 &
  pids+=($!)
done
sleep $((seconds + per_ms / 1000 + 5))
kill -TERM "${pids[@]}"
wait "${pids[@]}" || true
"$spindle" --database "$url" --json jobs list --kind "$queue" --state completed,running,failed \
  --limit 100000 >"$dir/jobs.json"
"$spindle" --database "$url" limits remove "rate:queue:$queue" >/dev/null
python3 - "$dir/jobs.json" "$cap" "$per_ms" "$seconds" "$workers" "$rate" <<'PY'
import datetime, json, sys
jobs, cap, per, seconds, workers, rate = sys.argv[1:]
cap, per, seconds = int(cap), int(per), int(seconds)
t = sorted(datetime.datetime.fromisoformat(j["started_at"].replace("Z", "+00:00")).timestamp() * 1000
           for j in json.load(open(jobs))["jobs"] if j.get("started_at"))
t0 = t[0]
within = sum(1 for x in t if x < t0 + seconds * 1000)
allowed = cap * seconds * 1000 / per
most, j = 0, 0
for i in range(len(t)):
    while t[i] - t[j] >= per:
        j += 1
    most = max(most, i - j + 1)
print(json.dumps({"rate": rate, "workers": workers, "seconds": seconds, "started": within,
                  "allowed": allowed, "ratio": round(within / allowed, 4),
                  "most_in_any_window": most}))
PY
