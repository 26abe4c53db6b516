#!/usr/bin/env bash
# Spindle's Debian packages (README, "Install"):
#   scripts/package.sh           build build/ and make build/spindle_VERSION_ARCH.deb and
#                                build/libspindle-dev_VERSION_ARCH.deb (CPack, cmake/Packaging.cmake)
#   scripts/package.sh --check   also, as root: lintian (its errors fail), dpkg -i, the unit
#                                checked by systemd-analyze verify, /usr/bin/spindle --version, a
#                                serve/enqueue/list round as the spindle user, a second install
#                                over the first, then dpkg -r and --purge leaving nothing behind.
# The check changes the machine it runs on (a test machine): it installs and purges the packages
# and leaves the spindle system user, as Debian's packages do.
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
for arg in "$@"; do
  case $arg in
    --check) check=1 ;;
    *) echo "usage: scripts/package.sh [--check]" >&2; exit 2 ;;
  esac
done
if ((check)) && [[ $EUID -ne 0 ]]; then
  echo "package.sh: --check installs the packages: run it as root" >&2
  exit 1
fi

bash scripts/deps.sh --package
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPINDLE_WERROR=ON
cmake --build build -j2 --target spindle spindle_cli spindle_man
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' build/CMakeCache.txt)
arch=$(dpkg --print-architecture)
rm -f build/*.deb
(cd build && cpack -G DEB >/dev/null)
debs=("build/spindle_${version}_${arch}.deb" "build/libspindle-dev_${version}_${arch}.deb")
for deb in "${debs[@]}"; do
  [[ -f $deb ]] || { echo "package.sh: $deb was not made" >&2; exit 1; }
  echo "package.sh: made $deb"
done
((check)) || exit 0

say() { echo "package.sh: $*"; }
fail() { echo "package.sh: FAILED: $*" >&2; exit 1; }
# As the spindle user, in its home; setpriv and env exec, so that $! is the program itself.
as_spindle() {
  setpriv --reuid=spindle --regid=spindle --init-groups \
    env -C /var/lib/spindle HOME=/var/lib/spindle USER=spindle "$@"
}
cli() { as_spindle /usr/bin/spindle --config /etc/spindle/spindle.toml "$@"; }

say "lintian"
# Errors fail the check; the warnings it gives are explained in docs/deployment.md.
lintian_out=$(lintian "${debs[@]}" 2>&1 || true)
[[ -z $lintian_out ]] || echo "$lintian_out"
if grep -q '^E:' <<<"$lintian_out"; then fail "lintian reported errors"; fi

say "dpkg -i"
dpkg -i "${debs[@]}"
[[ $(/usr/bin/spindle --version) == "spindle $version (schema version "* ]] ||
  fail "spindle --version: $(/usr/bin/spindle --version)"
/usr/bin/spindle --version
getent passwd spindle >/dev/null || fail "no spindle user"
[[ $(stat -c %U:%G /var/lib/spindle) == spindle:spindle ]] || fail "/var/lib/spindle's owner"
[[ $(stat -c %a:%G /etc/spindle/spindle.toml) == 640:spindle ]] || fail "the configuration's mode"
dpkg-query -W -f='${Conffiles}\n' spindle | grep -q /etc/spindle/spindle.toml ||
  fail "/etc/spindle/spindle.toml is not a conffile"
# It exits 0 on unknown keys and bad values too, so any word from it fails the check.
verify=$(systemd-analyze verify /lib/systemd/system/spindle.service 2>&1) ||
  fail "systemd-analyze verify: $verify"
[[ -z $verify ]] || fail "systemd-analyze verify: $verify"
test -f /usr/include/spindle/spindle.h || fail "no headers"
compgen -G '/usr/lib*/cmake/Spindle/SpindleConfig.cmake' >/dev/null ||
  compgen -G '/usr/lib/*/cmake/Spindle/SpindleConfig.cmake' >/dev/null || fail "no CMake package"

# The round: the API answers with this version, a noop job is enqueued, completes and is listed.
# $1 prints the server's log when something fails.
round() {
  local show_log=$1 state='' id
  for _ in $(seq 1 300); do
    curl -sf http://127.0.0.1:7777/api/v1/readyz >/dev/null && break
    server_alive || { $show_log; fail "the server exited"; }
    sleep 0.2
  done
  api_version=$(curl -sf http://127.0.0.1:7777/api/v1/version | jq -r .version)
  [[ $api_version == "$version" ]] || { $show_log; fail "the API says version '$api_version'"; }
  id=$(cli enqueue noop --args '{"from":"package.sh"}')
  for _ in $(seq 1 300); do
    state=$(cli --json jobs show "$id" | jq -r .state)
    [[ $state == completed ]] && break
    sleep 0.2
  done
  [[ $state == completed ]] || { $show_log; fail "job $id is $state, not completed"; }
  cli jobs list | grep -q "$id" || fail "jobs list does not show $id"
  [[ $(stat -c %U /var/lib/spindle/spindle.db) == spindle ]] || fail "the database's owner"
  say "job $id completed"
}

if [[ -d /run/systemd/system ]]; then
  say "the spindle service, started by systemd: enqueue, list, stop"
  server_alive() { ! systemctl is-failed --quiet spindle; }
  journal() { journalctl -u spindle --no-pager | tail -50; }
  systemctl is-enabled --quiet spindle || fail "the unit is not enabled"
  round journal
  systemctl stop spindle
  [[ $(systemctl show -p ExecMainStatus --value spindle) == 0 ]] || { journal; fail "not a clean stop"; }
  journalctl -u spindle --no-pager | grep -q 'event=worker_stopped' || { journal; fail "no graceful stop"; }
else
  # No systemd here: the unit's command line, as its user, in its directory.
  say "serve (the unit's ExecStart as the spindle user), enqueue, list, SIGTERM"
  if curl -s -o /dev/null http://127.0.0.1:7777/; then fail "127.0.0.1:7777 is already in use"; fi
  log=$(mktemp)
  setpriv --reuid=spindle --regid=spindle --init-groups env -C /var/lib/spindle \
    HOME=/var/lib/spindle USER=spindle /usr/bin/spindle --config /etc/spindle/spindle.toml serve \
    >"$log" 2>&1 &
  serve=$!
  trap 'kill -TERM "$serve" 2>/dev/null || true; rm -f "$log"' EXIT
  server_alive() { kill -0 "$serve" 2>/dev/null; }
  print_log() { cat "$log"; }
  grep -q '^ExecStart=/usr/bin/spindle --config /etc/spindle/spindle.toml serve$' \
    /lib/systemd/system/spindle.service || fail "the unit's ExecStart is not what this check runs"
  round print_log
  kill -TERM "$serve"
  rc=0
  wait "$serve" || rc=$?
  trap 'rm -f "$log"' EXIT
  ((rc == 0)) || { print_log; fail "spindle serve exited $rc on SIGTERM"; }
  grep -q 'event=worker_stopped' "$log" || { print_log; fail "no graceful stop in the log"; }
fi
say "the server stopped gracefully"

say "installing again over the installed packages"
dpkg -i "${debs[@]}"

say "dpkg -r, then --purge"
dpkg -r spindle libspindle-dev
[[ ! -e /usr/bin/spindle && ! -e /usr/include/spindle ]] || fail "files left after dpkg -r"
test -f /etc/spindle/spindle.toml || fail "dpkg -r removed the conffile"
dpkg --purge spindle
for p in /etc/spindle /var/lib/spindle /lib/systemd/system/spindle.service /usr/share/doc/spindle \
  /etc/systemd/system/multi-user.target.wants/spindle.service; do
  [[ ! -e $p && ! -L $p ]] || fail "$p is left after --purge"
done
if dpkg-query -W -f='${db:Status-Status}' spindle 2>/dev/null | grep -qv not-installed; then
  fail "dpkg still knows spindle"
fi
say "ok"
