#!/usr/bin/env bash
# Install Spindle's build/test dependencies on Debian 12 (works on a minimal system).
# Only packages that are not installed yet are fetched; silent when nothing is missing.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config git ca-certificates
  libpq-dev postgresql-15
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libcpp-httplib-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  procps
)

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
