#!/usr/bin/env bash
# Builds one fuzz target as a libFuzzer program (clang-14, ASan+UBSan, all
# of the project's code instrumented for coverage) in build-fuzz/ and fuzzes
# it for MINUTES minutes.  See docs/fuzzing.md.
#
#   tests/fuzz/run.sh [--merge] TARGET MINUTES [-- LIBFUZZER_ARGS...]
#
# TARGET is a name of tests/fuzz/fuzz_<TARGET>.c (wire_req, wire_rep,
# wire_preflight, hsm_proto, p11uri, policy, config, clientconf).
#
# The committed corpus tests/fuzz/corpus/TARGET/ is read, never written:
# new inputs go to the scratch dir build-fuzz/new-corpus/TARGET/.  With
# --merge, the inputs of the scratch dir that add coverage are merged into
# the committed corpus at the end (libFuzzer -merge=1, files named by their
# SHA-1).  Crashes, leaks and timeouts are written to tests/fuzz/crashes/
# (ignored by git) as TARGET-crash-<sha1> etc.  The whole libFuzzer output
# is kept in build-fuzz/logs/TARGET.log.
#
# Environment: CC (default clang-14), FUZZ_BUILD (default build-fuzz).
set -euo pipefail

merge=0
if [[ ${1:-} == --merge ]]; then
  merge=1
  shift
fi
if [[ $# -lt 2 ]]; then
  sed -n '2,20p' "$0" >&2
  exit 2
fi
target=$1
minutes=$2
shift 2
[[ ${1:-} == -- ]] && shift

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
cc=${CC:-clang-14}

if [[ ! -f $here/fuzz_$target.c ]]; then
  echo "run.sh: no fuzz target $target (tests/fuzz/fuzz_$target.c)" >&2
  exit 2
fi
if ! [[ $minutes =~ ^[0-9]+$ ]] || [[ $minutes -lt 1 ]]; then
  echo "run.sh: MINUTES must be a positive integer" >&2
  exit 2
fi

# SIGNET_SANITIZE adds ASan+UBSan (no recovery) to every object, the
# CMAKE_C_FLAGS the coverage instrumentation; SIGNET_FUZZ links the targets
# with libFuzzer's main().
# clang's -Wformat-nonliteral (from -Wformat=2) also flags the va_list
# forwarders of sg_yaml.c that gcc accepts: kept a warning in this build.
# The lock lets several run.sh share build-fuzz/ (one per CPU) without two
# builds racing on the same objects.
mkdir -p "$build/logs"
exec 9>"$build/.build.lock"
flock 9
if ! { cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSIGNET_SANITIZE=ON -DSIGNET_FUZZ=ON \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link -Wno-error=format-nonliteral" &&
  cmake --build "$build" --target "fuzz_$target" -j"$(nproc)"; } >"$build/logs/build-$target.log" 2>&1; then
  tail -n 30 "$build/logs/build-$target.log" >&2
  echo "run.sh: build failed, see $build/logs/build-$target.log" >&2
  exit 1
fi
flock -u 9
exec 9>&-

corpus=$here/corpus/$target
scratch=$build/new-corpus/$target
crashes=$here/crashes
mkdir -p "$scratch" "$crashes"
log=$build/logs/$target.log

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
# The first directory receives new inputs; the second only seeds the run.
"$build/tests/fuzz/fuzz_$target" -max_total_time=$((minutes * 60)) -print_final_stats=1 \
  -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$crashes/$target-" \
  "$@" "$scratch" "$corpus" >"$log" 2>&1 || status=$?

grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" || true
grep -E '^(stat::|INFO: Running with|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' \
  "$log" || true
if [[ $status -ne 0 ]]; then
  echo "run.sh: $target: libFuzzer exited $status, see $log and $crashes/" >&2
  exit "$status"
fi
if [[ $merge -eq 1 ]]; then
  "$build/tests/fuzz/fuzz_$target" -merge=1 "$corpus" "$scratch" >>"$log" 2>&1
  echo "run.sh: merged into $corpus: $(find "$corpus" -type f | wc -l) files"
fi
