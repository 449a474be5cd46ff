#!/usr/bin/env bash
# Builds parley's libFuzzer targets (tests/fuzz/) with clang, AddressSanitizer and UBSan, and
# runs each for a while.
#
#   contrib/fuzz.sh SECONDS [TARGET...]    TARGET: xml_stream_fuzz jid_fuzz scram_fuzz config_fuzz
#
# Each target starts from a copy of its seed corpus (tests/fuzz/corpus/TARGET/) in a scratch
# directory, so the repository is never modified; new interesting inputs are left there and
# the script prints where. Exits 1 if any target crashed, leaked, hit UB, broke an invariant
# or timed out, printing the reproducer's path and how to replay it.
#
# Needs clang and libclang-rt-14-dev (Debian 12) besides the packages of contrib/dev.sh.
# Environment: FUZZ_BUILD_DIR (default build-fuzz/ in the repository), FUZZ_WORK_DIR (the
# scratch directory; default a new one under ${TMPDIR:-/tmp}), FUZZ_JOBS (build jobs, default 2),
# FUZZ_TIMEOUT (seconds one input may take before it counts as a hang, default 10),
# FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
all_targets=(xml_stream_fuzz jid_fuzz scram_fuzz config_fuzz)

usage() {
  echo "usage: contrib/fuzz.sh SECONDS [TARGET...]   (targets: ${all_targets[*]})" >&2
  exit 2
}
[ $# -ge 1 ] || usage
seconds=$1
shift
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t'" >&2; usage; }
done

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found. Fuzzing needs clang's libFuzzer; on Debian 12:" >&2
  echo "  apt-get install -y --no-install-recommends clang libclang-rt-14-dev" >&2
  exit 1
fi

build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  # RelWithDebInfo (NDEBUG) as parley ships; tests/fuzz/CMakeLists.txt adds -O1 and sanitizers.
  cmake -S "$root" -B "$build" "${generator[@]}" -DPARLEY_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >"$build.configure.log" 2>&1 || {
    cat "$build.configure.log" >&2
    echo "fuzz.sh: configuring $build failed (see above)" >&2
    exit 1
  }
  rm -f "$build.configure.log"
fi
echo "fuzz.sh: building ${targets[*]} in $build" >&2
cmake --build "$build" --target "${targets[@]}" -j "${FUZZ_JOBS:-2}"

work=${FUZZ_WORK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/parley-fuzz.XXXXXX")}
mkdir -p "$work"
failed=()
for t in "${targets[@]}"; do
  dir=$work/$t
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -R "$root/tests/fuzz/corpus/$t/." "$dir/corpus/"
  seeds=$(find "$dir/corpus" -type f | wc -l)
  dict=()
  [ -f "$root/tests/fuzz/$t.dict" ] && dict=(-dict="$root/tests/fuzz/$t.dict")
  echo "fuzz.sh: $t for ${seconds}s from $seeds seeds" >&2
  status=0
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} \
    "$dir/corpus" >"$dir/log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
  found=$(( $(find "$dir/corpus" -type f | wc -l) - seeds ))
  if [ "$status" -ne 0 ]; then
    failed+=("$t")
    echo "fuzz.sh: $t FAILED (exit $status); the end of its log ($dir/log):" >&2
    tail -n 40 "$dir/log" >&2
    for artifact in "$dir"/artifacts/*; do
      [ -e "$artifact" ] || continue
      echo "fuzz.sh: reproducer: $artifact" >&2
      echo "fuzz.sh:   replay: $build/tests/fuzz/$t $artifact" >&2
    done
  else
    echo "fuzz.sh: $t ok: ${runs:-?} inputs run, $found new interesting inputs in $dir/corpus" >&2
  fi
done

echo "fuzz.sh: scratch directory (corpora, logs, reproducers): $work" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all targets ran ${seconds}s without a finding" >&2
