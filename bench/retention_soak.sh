#!/bin/sh
# Retention soak (docs/benchmarks.md, "Retention"), on demand, not in CI: runs N jobs (default
# 1000000) through one worker that deletes completed jobs 10 s after they finished
# (`spindle bench --phases soak`), and samples the size of the job table and its history, with
# their indexes, every 5 s. With retention the size levels off instead of growing with the jobs.
#
#   bench/retention_soak.sh postgresql://user@host/db [N]
#   bench/retention_soak.sh sqlite:/tmp/soak.db [N]
#
# Prints one line per sample: seconds, rows in the job table, bytes. The bench's own progress
# (jobs completed so far) goes to stderr.
set -eu
url=$1
n=${2:-1000000}
spindle=${SPINDLE:-build/spindle}

"$spindle" --database "$url" migrate >/dev/null

size() {
  case $url in
    sqlite:*)
      sqlite3 "${url#sqlite:}" "SELECT (SELECT count(*) FROM spindle_jobs),
                                        page_count * page_size
                                 FROM pragma_page_count(), pragma_page_size()" | tr '|' ' ' ;;
    *)
      psql -X -At -F ' ' "$url" -c "SELECT (SELECT count(*) FROM spindle.jobs),
                                            pg_total_relation_size('spindle.jobs') +
                                            pg_total_relation_size('spindle.job_events')" ;;
  esac
}

"$spindle" --database "$url" bench --phases soak --n "$n" &
bench=$!
start=$(date +%s)
echo "seconds rows bytes"
while kill -0 "$bench" 2>/dev/null; do
  echo "$(( $(date +%s) - start )) $(size)"
  sleep 5
done
wait "$bench"
echo "$(( $(date +%s) - start )) $(size)"
