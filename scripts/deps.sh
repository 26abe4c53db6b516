#!/usr/bin/env bash
# Install Spindle's dependencies on Debian 12 (works on a minimal system).
#   scripts/deps.sh          what building and running needs (no PostgreSQL server: the
#                            embedded default is SQLite; libpq is only the client library)
#   scripts/deps.sh --test   also the PostgreSQL server, the test libraries and the browser
#   scripts/deps.sh --package  also what making and checking the Debian packages needs
# Only packages that are not installed yet are fetched; silent when nothing is missing.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config git ca-certificates
  libpq-dev libsqlite3-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libhowardhinnant-date-dev tzdata
  libcpp-httplib-dev prometheus-cpp-dev libssl-dev
  libgtest-dev
)
if [[ ${1:-} == --test ]]; then
  # chromium and Node.js run the dashboard's browser tests (tests/web/); a Node.js that is
  # already installed (with its npm) is used as it is.
  pkgs+=(postgresql-15 procps jq curl prometheus chromium)
  command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
elif [[ ${1:-} == --package ]]; then
  # dpkg-shlibdeps (dpkg-dev) finds the binary's dependencies; systemd brings systemd-analyze;
  # help2man makes spindle(1).
  pkgs+=(dpkg-dev file lintian systemd adduser help2man curl jq)
fi

# Collect the packages dpkg does not report as installed.
missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$p")
done
((${#missing[@]})) || exit 0

# Root runs apt-get directly; anyone else needs sudo.
sudo=()
if [[ $EUID -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 ||
    { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi

echo "deps.sh: installing ${missing[*]}" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
