#!/usr/bin/env bash
# Spindle's test command (see README):
#   scripts/test.sh [--fast]
# 1. installs missing dependencies (scripts/deps.sh, uses sudo when not root) and the browser
#    tests' npm package (tests/web/);
# 2. builds build/ (RelWithDebInfo) and build-asan/ (Debug + ASan/UBSan), both with -Werror;
# 3. starts a throwaway PostgreSQL cluster (scripts/pg.sh) and exports its URL as
#    SPINDLE_TEST_DATABASE; it is stopped and deleted on exit;
# 4. runs ctest on build-asan/, then on build/ last (its summary is the final output).
# Exits non-zero if either ctest run fails; both always run.
# Options:
#   --fast   skip the sanitizer tree (build-asan/) entirely.
set -euo pipefail
cd "$(dirname "$0")/.."

fast=0
for arg in "$@"; do
  case $arg in
    --fast) fast=1 ;;
    *) echo "usage: scripts/test.sh [--fast]" >&2; exit 2 ;;
  esac
done

bash scripts/deps.sh --test
# The browser tests' driver (playwright-core, pinned in tests/web/package-lock.json).
npm ci --prefix tests/web --no-audit --no-fund --loglevel=error

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPINDLE_WERROR=ON
cmake --build build -j2
if ((!fast)); then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSPINDLE_WERROR=ON -DSPINDLE_SANITIZE=ON
  cmake --build build-asan -j2
fi

# Throwaway cluster under /tmp; 755 so the postgres user can enter it when we are root.
pgdir=$(mktemp -d /tmp/spindle-test-pg.XXXXXX)
chmod 755 "$pgdir"
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
  bash scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$pgdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
SPINDLE_TEST_DATABASE=$(bash scripts/pg.sh start "$pgdir")
export SPINDLE_TEST_DATABASE

# Run both suites even if the first fails (set -e would stop us otherwise).
rc=0
if ((!fast)); then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j2 --timeout 600 || rc=1
fi
ctest --test-dir build --output-on-failure -j2 --timeout 600 || rc=1
exit "$rc"
