#!/usr/bin/env bash
# The dashboard's reads on a big table: how long the server takes to answer what the overview and
# the job explorer ask, with N jobs in the table (docs/benchmarks.md, "Dashboard").
#   bench/dashboard.sh DATABASE_URL [N] [REPEATS]
# Fills an empty database with N jobs, each with args {"n": I, "customer": I % 1000}: 90%
# finished (enqueued, then cancelled by filter, the fastest way to finished rows), 9% available
# in a queue nobody serves, and 1% failed (run by a worker whose command fails). Then serves it
# with `spindle web` and asks each request REPEATS times (curl on loopback), printing the median
# and the 95th percentile in ms.
# Example: bench/dashboard.sh sqlite:/tmp/dash-bench.db 1000000 20
set -euo pipefail
cd "$(dirname "$0")/.."
url=$1 n=${2:-1000000} repeats=${3:-20}
bin=$PWD/build/spindle
port=${PORT:-7791}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

done_n=$((n * 9 / 10)) backlog=$((n * 9 / 100)) failing=$((n / 100))
args() { seq 1 "$1" | awk '{printf "{\"n\":%d,\"customer\":%d}\n", $1, $1 % 1000}'; }
args "$done_n" | "$bin" --database "$url" enqueue report --queue archive --batch --batch-size 5000 >/dev/null
"$bin" --database "$url" jobs cancel --queue archive --yes >/dev/null
args "$backlog" | "$bin" --database "$url" enqueue report --queue backlog --batch --batch-size 5000 >/dev/null
"$bin" --database "$url" web --http "127.0.0.1:$port" >"$tmp/web.log" 2>&1 &
until curl -sf "http://127.0.0.1:$port/api/v1/readyz" >/dev/null; do sleep 0.2; done
count() { curl -s "http://127.0.0.1:$port/api/v1/jobs?$1&limit=1" | jq .count; }

# A job fails only by running: these run a command that fails, on a worker of their own.
cat >"$tmp/fail.toml" <<TOML
database = "$url"
[queues.failing]
concurrency = 50
[kinds.charge]
command = ["/bin/false"]
max_attempts = 1
queue = "failing"
TOML
args "$failing" | sed 's/.*/{"args":&,"max_attempts":1}/' |
  "$bin" --database "$url" enqueue charge --queue failing --batch --batch-size 5000 >/dev/null
"$bin" --config "$tmp/fail.toml" serve >"$tmp/serve.log" 2>&1 &
serve=$!
until [[ $(count "queue=failing&state=failed") -ge $failing ]]; do sleep 2; done
kill -TERM "$serve"
wait "$serve" || true

measure() {
  local name=$1 path=$2
  for ((i = 0; i < repeats; i++)); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/api/v1$path"
  done | sort -n | awk -v name="$name" -v r="$repeats" '
    { t[NR] = $1 * 1000 }
    END { printf "%-44s median %7.1f ms   p95 %7.1f ms\n", name, t[int((r + 1) / 2)], t[int(r * 0.95 + 0.5)] }'
}
curl -s "http://127.0.0.1:$port/api/v1/stats" | jq -c .jobs
echo "overview:"
measure "  GET /cluster" /cluster
measure "  GET /queues" /queues
measure "  GET /workers" /workers
measure "  GET /partitions" /partitions
measure "  GET /stats/series" /stats/series
measure "  GET /jobs?at_risk=true&limit=1000" '/jobs?at_risk=true&limit=1000'
echo "job explorer (pages of 50):"
measure "  all jobs" '/jobs?limit=50'
measure "  state=failed" '/jobs?state=failed&limit=50'
measure "  state=cancelled&queue=archive" '/jobs?state=cancelled&queue=archive&limit=50'
measure "  state=available&queue=backlog" '/jobs?state=available&queue=backlog&limit=50'
measure "  kind=charge&state=failed" '/jobs?kind=charge&state=failed&limit=50'
measure "  q=queue:backlog args.customer:42" '/jobs?q=queue:backlog%20args.customer:42&limit=50'
measure "  failures (the newest 10,000 grouped)" /failures
