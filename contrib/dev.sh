#!/usr/bin/env bash
# parley's development entry point.
#
#   contrib/dev.sh serve [ARGS]   install what is missing, build, run `parley serve --dev`
#   contrib/dev.sh test  [ARGS]   install what is missing, build, run the whole test suite
#   contrib/dev.sh build          install what is missing, build into build/
#
# Packages come from Debian 12 only and are installed only when missing (as root, or with
# sudo), so a second run with nothing changed goes straight to an incremental build.
# Environment: BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo),
# PARLEY_SANITIZE=ON for AddressSanitizer + UBSan.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
build_type=${BUILD_TYPE:-RelWithDebInfo}

packages=(
  g++ cmake ninja-build make pkg-config ca-certificates openssl
  libboost1.81-dev libssl-dev libexpat1-dev libpqxx-dev libgtest-dev
  libtomlplusplus-dev libfmt-dev libicu-dev libc-ares-dev
  postgresql-15
  python3 python3-slixmpp
  prosody lua-unbound
  clang libclang-rt-14-dev
)

install_packages() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo=(sudo); else
      echo "dev.sh: missing packages: ${missing[*]}; install them as root:" >&2
      echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "dev.sh: installing ${missing[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # Packages with a service (PostgreSQL, Prosody) must not start it: the tests run their own
  # instances on loopback, and a system Prosody on *:5269 would take the federation test's
  # port. policy-rc.d says "no" to service starts during this install only.
  local policy=/usr/sbin/policy-rc.d own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    own_policy=1
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { [ -n "$own_policy" ] && "${sudo[@]}" rm -f "$policy"; exit 1; }
  [ -n "$own_policy" ] && "${sudo[@]}" rm -f "$policy"
  return 0
}

build_tree() {
  if [ ! -f "$build/build.ninja" ]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
      -DPARLEY_SANITIZE="${PARLEY_SANITIZE:-OFF}" >/dev/null
  fi
  cmake --build "$build"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
  serve)
    install_packages
    build_tree
    cd "$root"
    exec "$build/parley" serve --dev "$@"
    ;;
  test)
    install_packages
    build_tree
    exec ctest --test-dir "$build" --output-on-failure -j "$(nproc)" "$@"
    ;;
  build)
    install_packages
    build_tree
    ;;
  *)
    echo "usage: contrib/dev.sh serve|test|build [ARGS]" >&2
    exit 2
    ;;
esac
