#!/usr/bin/env bash
# Spindle quick start (see README):
#   scripts/run.sh [extra `spindle serve` arguments...]
# Installs missing dependencies, builds build/spindle, starts (or reuses) a private PostgreSQL
# cluster in ./.spindle/pg on port ${SPINDLE_PG_PORT:-54329}, creates the database
# spindle_quickstart if missing and runs `spindle serve` in the foreground.
# Stop the cluster afterwards with: scripts/pg.sh stop .spindle/pg
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPINDLE_WERROR=ON
cmake --build build -j2 --target spindle_cli

# .spindle must be traversable by the postgres user when we are root.
mkdir -p .spindle/pg
chmod 755 .spindle
base_url=$(bash scripts/pg.sh start .spindle/pg "${SPINDLE_PG_PORT:-54329}")
db_url=${base_url%/*}/spindle_quickstart

exists=$(psql "$base_url" -XtAq -c "SELECT 1 FROM pg_database WHERE datname = 'spindle_quickstart'")
[[ $exists == 1 ]] || psql "$base_url" -Xq -c 'CREATE DATABASE spindle_quickstart'

echo "hint: enqueue a job from another terminal: SPINDLE_DATABASE=$db_url build/spindle enqueue hello --args '{\"name\":\"world\"}'" >&2
exec build/spindle serve --database "$db_url" --config examples/spindle.toml "$@"
