#!/usr/bin/env bash
# The installed package, as an outside project uses it (docs/embedding.md):
#   tests/install_test.sh BUILD_DIR
# installs BUILD_DIR's `dev` component (libspindle, headers, CMake package, pkg-config file) into
# a fresh prefix, configures and builds examples/embed against it with find_package(Spindle),
# runs it on a new SQLite file, and compiles and links a program with pkg-config alone.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: tests/install_test.sh BUILD_DIR}" && pwd)
work=$(mktemp -d /tmp/spindle-install-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

step() { echo "install_test: $*"; }

step "installing into a fresh prefix"
cmake --install "$build" --prefix "$prefix" --component dev >/dev/null
# A shared libspindle is in `server`, with the binary.
cmake --install "$build" --prefix "$prefix" --component server >/dev/null
# The binary runs from the prefix (with a shared libspindle, the one beside it).
"$prefix/bin/spindle" --version
[[ $("$prefix/bin/spindle" --version) == "spindle $(sed -n 's/^Version: //p' "$prefix"/lib*/pkgconfig/spindle.pc) "* ]]
test -f "$prefix/include/spindle/spindle.h"
test -f "$prefix/include/spindle/version.h"
ls "$prefix"/lib*/cmake/Spindle/SpindleConfig.cmake >/dev/null

step "building examples/embed with find_package(Spindle)"
cmake -S "$src/examples/embed" -B "$work/embed" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON >/dev/null
cmake --build "$work/embed" -j2 >/dev/null
# Nothing of this source tree may be reachable from the outside project's build.
if grep -rq -- "$src/src\|$build" "$work/embed/CMakeFiles/embed.dir/flags.make"; then
  echo "install_test: the example's compile flags name the source or build tree" >&2
  exit 1
fi

step "running it on SQLite"
out=$("$work/embed/embed" "sqlite:$work/embed.db")
echo "$out"
[[ $(grep -c ' completed ' <<<"$out") -eq 3 ]] || { echo "install_test: not 3 completed jobs" >&2; exit 1; }
grep -q '"greeting":"hello, Ada"' <<<"$out"
grep -q '"total":10' <<<"$out"

step "compiling and linking with pkg-config"
cat >"$work/pc.cc" <<'CC'
#include <spindle/spindle.h>
#include <iostream>
int main() {
  auto client = spindle::Client::Open({.database_url = "sqlite::memory:"});
  std::cout << spindle::Client::Version() << " " << client->SchemaVersion() << "\n";
}
CC
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$(ls "$prefix"/lib*/pkgconfig/spindle.pc)")
# shellcheck disable=SC2046  # pkg-config's words are flags
c++ -o "$work/pc" "$work/pc.cc" $(pkg-config --cflags --libs spindle) \
  -Wl,-rpath,"$(pkg-config --variable=libdir spindle)"
pc_out=$(cd "$work" && ./pc)
echo "$pc_out"
[[ $pc_out == "$(pkg-config --modversion spindle) "* ]]
step "ok"
