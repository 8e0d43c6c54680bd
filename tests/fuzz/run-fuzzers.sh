#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the libFuzzer harnesses (clang, ASan+UBSan) and runs each one for
# SECONDS, printing its executions and coverage (cov: edges, ft: features).
# Exits non-zero if any harness crashes, leaks, times out or fails to build.
#
#   tests/fuzz/run-fuzzers.sh SECONDS [HARNESS…]
#
# Environment:
#   FUZZ_BUILDDIR  build directory (default: build-fuzz at the top of the tree)
#   FUZZ_WORKDIR   where grown corpora, logs and crash files go
#                  (default: $FUZZ_BUILDDIR/fuzz-work); the committed seed
#                  corpora in tests/fuzz/corpus are only read
#   FUZZ_JOBS      harnesses run at once (default 1)
#   FUZZ_NO_BUILD  set: run the harnesses as built, without ninja
#   CC             the clang to use (default: clang-14, else clang)
set -uo pipefail

if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 SECONDS [HARNESS…]" >&2
  exit 2
fi
seconds=$1
shift

top=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${FUZZ_BUILDDIR:-$top/build-fuzz}
workdir=${FUZZ_WORKDIR:-$builddir/fuzz-work}
jobs=${FUZZ_JOBS:-1}
seeds=$top/tests/fuzz/corpus
dict=$top/tests/fuzz/tincan.dict

if [ -z "${CC:-}" ]; then
  if command -v clang-14 > /dev/null; then CC=clang-14; else CC=clang; fi
fi
export CC

if [ ! -f "$builddir/build.ninja" ]; then
  echo "== configuring $builddir with $CC"
  # The log's directory first: on a fresh clone there is no $builddir yet.
  mkdir -p "$(dirname "$workdir")"
  meson setup "$builddir" "$top" -Dfuzzing=true -Dapp=disabled > "$workdir.setup.log" 2>&1 ||
    { cat "$workdir.setup.log"; exit 1; }
fi

# The harnesses this tree builds (tests/fuzz/meson.build), or those named.
if [ $# -gt 0 ]; then
  harnesses=("$@")
else
  mapfile -t harnesses < <(meson introspect --targets "$builddir" |
                           /usr/bin/python3 -c 'import json, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["name"].startswith("fuzz-"):
        print(t["name"])' | sort)
fi
if [ ${#harnesses[@]} -eq 0 ]; then
  echo "no fuzz harnesses found in $builddir" >&2
  exit 1
fi

if [ -z "${FUZZ_NO_BUILD:-}" ]; then
  echo "== building ${harnesses[*]}"
  targets=()
  for h in "${harnesses[@]}"; do targets+=("tests/fuzz/$h"); done
  if ! ninja -C "$builddir" "${targets[@]}" > "$builddir/fuzz-build.log" 2>&1; then
    tail -40 "$builddir/fuzz-build.log"
    exit 1
  fi
fi

# Leaks are checked in a second pass over the corpus, not while fuzzing:
# the stacks LeakSanitizer needs to tell third-party leaks (listed with
# reasons in lsan-fuzz.supp) from ours cost a full unwind on every malloc,
# which would slow the fuzzing itself down a hundredfold. GSlice keeps freed
# blocks in caches, which LeakSanitizer cannot see through.
export G_SLICE=always-malloc
fuzz_asan_options=${ASAN_OPTIONS:-detect_leaks=0}
leak_asan_options=detect_leaks=1:fast_unwind_on_malloc=0:malloc_context_size=40
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/tests/fuzz/lsan-fuzz.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

max_len_for () {
  case "$1" in
    fuzz-server-frames) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

run_one () {
  local h=$1
  local bin=$builddir/tests/fuzz/$h
  local corpus=$workdir/corpus/$h
  local log=$workdir/$h.log
  local rc

  mkdir -p "$corpus" "$workdir/artifacts"
  # The grown corpus comes first so new inputs land there, not in the tree.
  ASAN_OPTIONS=$fuzz_asan_options nice -n 10 "$bin" \
    -max_total_time="$seconds" \
    -max_len="$(max_len_for "$h")" \
    -timeout=30 \
    -rss_limit_mb=2048 \
    -detect_leaks=0 \
    -dict="$dict" \
    -print_final_stats=1 \
    -artifact_prefix="$workdir/artifacts/$h-" \
    "$corpus" "$seeds/$h" > "$log" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ]; then
    # Every input of the corpus once more, each checked for leaks.
    ASAN_OPTIONS=$leak_asan_options nice -n 10 "$bin" \
      -runs=0 \
      -max_len="$(max_len_for "$h")" \
      -timeout=60 \
      -rss_limit_mb=4096 \
      -detect_leaks=1 \
      -artifact_prefix="$workdir/artifacts/$h-" \
      "$corpus" "$seeds/$h" > "$workdir/$h.leaks.log" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] || cat "$workdir/$h.leaks.log" >> "$log"
  fi
  echo "$rc" > "$workdir/$h.rc"
}

summarize () {
  local h=$1
  local log=$workdir/$h.log
  local rc execs last
  rc=$(cat "$workdir/$h.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  local cov ft corp eps
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<< "$last")
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  printf '%-20s %4ss  execs: %-10s exec/s: %-7s cov: %-6s ft: %-6s corp: %-12s %s\n' \
    "$h" "$seconds" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "$([ "$rc" -eq 0 ] && echo OK || echo "FAILED (exit $rc)")"
  if [ "$rc" -ne 0 ]; then
    grep -E 'ERROR|SUMMARY|==[0-9]+==|^#[0-9]+ +0x|Test unit written|^[a-z-]+: |round trip|decoded|differs' "$log" | head -40
    echo "   full log: $log"
  fi
  [ "$rc" -eq 0 ]
}

mkdir -p "$workdir"
echo "== fuzzing ${#harnesses[@]} harness(es) for ${seconds}s each, $jobs at a time"
running=0
for h in "${harnesses[@]}"; do
  run_one "$h" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
for h in "${harnesses[@]}"; do
  summarize "$h" || failed=$((failed + 1))
done

if [ "$failed" -gt 0 ]; then
  echo "== $failed harness(es) failed; crash inputs in $workdir/artifacts"
  exit 1
fi
echo "== all ${#harnesses[@]} harnesses clean"
