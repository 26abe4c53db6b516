#!/usr/bin/env bash
# Spindle quick start (see README):
#   scripts/run.sh [extra `spindle serve` arguments...]
# Installs missing dependencies, builds build/spindle and runs `spindle serve` in the foreground
# with examples/spindle.toml on the embedded default database, sqlite:spindle.db in the
# repository's root. No PostgreSQL is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPINDLE_WERROR=ON
cmake --build build -j2 --target spindle_cli

echo "hint: from another terminal, in $(pwd): build/spindle enqueue hello --args '{\"name\":\"world\"}'" >&2
exec build/spindle --config examples/spindle.toml serve "$@"
