#!/usr/bin/env bash
# Installs what is missing, builds annals and runs its tests, in stages.
#
#   ./scripts/test.sh                       # the plain stage: what CI runs (.ci/run)
#   ANNALS_STAGES="plain asan tsan fuzz" ./scripts/test.sh   # every stage
#   ANNALS_STAGES="asan fuzz" ./scripts/test.sh   # chosen stages, in the order given
#   ANNALS_FUZZ_SECONDS=600 ANNALS_STAGES=fuzz ./scripts/test.sh   # fuzz longer
#   ANNALS_SOAK=1 ./scripts/test.sh         # also long soaks (200 SIGKILL rounds)
#
# Stages, each in its own build directory, fast ones first:
#   plain  gcc, Release: the whole suite, with the fuzz corpus replays       build/
#   asan   clang, ASan+UBSan (any finding fails its test): the whole suite   build-asan/
#   tsan   clang, TSan: the concurrency, projection, subscription and
#          statistics tests                                                  build-tsan/
#   fuzz   every libFuzzer target for ANNALS_FUZZ_SECONDS (default 60) from
#          its seed corpus, two at a time; findings in
#          build-asan/fuzz/findings/<target>/                               build-asan/
# The run stops at the first failing stage. Each stage prints ctest's summary;
# the last line adds them up.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

# The sanitizer and fuzz stages are not in the default (CI) run yet: they have
# not been run end to end and timed on a 2-core machine (issue 11, item 11).
read -r -a stages <<<"${ANNALS_STAGES:-plain}"
jobs=$(nproc)
fuzz_seconds=${ANNALS_FUZZ_SECONDS:-60}
# The test binaries TSan runs (ctest labels: each test carries its binary's name).
tsan_tests=(concurrency_test subscription_test projection_test projection_crash_test
            read_model_test cafe_read_models_test mutex_test statistics_test
            store_statistics_test projection_statistics_test)

if [[ "${ANNALS_SOAK:-0}" == "1" ]]; then
  export ANNALS_CRASH_ROUNDS=200
fi
# A sanitizer finding fails the test that made it, with a symbolized stack.
# RocksDB's group commit shows benign races to TSan (Debian's librocksdb is not
# instrumented); our code is still checked.
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
export TSAN_OPTIONS="ignore_noninstrumented_modules=1:second_deadlock_stack=1:${TSAN_OPTIONS:-}"
if command -v llvm-symbolizer >/dev/null; then
  export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer)}
fi

# Sanitizer builds: clang (libFuzzer needs it), line tables for the stacks,
# -O1 as the sanitizers advise; no benchmarks.
sanitizer_args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" -DANNALS_BUILD_BENCH=OFF)
asan_args=("${sanitizer_args[@]}" -DANNALS_SANITIZE=address,undefined -DANNALS_FUZZ=ON
  "-DANNALS_FUZZ_SECONDS=${fuzz_seconds}")

report=()
total_passed=0
total_failed=0
current=""
finish() {
  local rc=$?
  echo
  echo "== scripts/test.sh: stages =="
  local line
  for line in "${report[@]}"; do echo "$line"; done
  if ((rc != 0)); then
    echo "stage '${current}' FAILED (exit ${rc}); later stages did not run"
    # A failure still ends with the count of what ran.
    total_failed=$((total_failed > 0 ? total_failed : 1))
  fi
  echo "total: ${total_passed} passed, ${total_failed} failed"
}
trap finish EXIT

# Runs ctest in <dir> with <args>, tees its output and adds its summary
# ("100% tests passed, 0 tests failed out of 171") to the totals.
run_ctest() {
  local dir=$1
  shift
  local log="${dir}/ctest-${current}.log" rc=0
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j "$jobs" "$@") 2>&1 | tee "$log" ||
    rc=$?
  local summary
  summary=$(grep -E '[0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
  if [[ -n "$summary" ]]; then
    local failed all
    failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
    all=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$summary")
    total_passed=$((total_passed + all - failed))
    total_failed=$((total_failed + failed))
  fi
  return "$rc"
}

# Times <command...> into the variable named by $1 (seconds).
timed() {
  local -n seconds_out=$1
  shift
  local start=$SECONDS
  "$@"
  seconds_out=$((SECONDS - start))
}

existing_targets() {  # <build dir> <target...>: those the build defines
  local dir=$1
  shift
  local all
  all=$(ninja -C "$dir" -t targets all | cut -d: -f1)
  local t
  for t in "$@"; do
    grep -qx "$t" <<<"$all" && echo "$t"
  done
  return 0
}

stage_plain() {
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
  timed build_s cmake --build build -j "$jobs"
  timed test_s run_ctest build --timeout 600
}

stage_asan() {
  cmake -S . -B build-asan "${asan_args[@]}"
  timed build_s cmake --build build-asan -j "$jobs"
  timed test_s run_ctest build-asan --timeout 1200 -LE '^fuzz-run$'
}

stage_tsan() {
  cmake -S . -B build-tsan "${sanitizer_args[@]}" -DANNALS_SANITIZE=thread
  local targets
  mapfile -t targets < <(existing_targets build-tsan "${tsan_tests[@]}")
  timed build_s cmake --build build-tsan -j "$jobs" --target "${targets[@]}"
  local labels
  labels=$(IFS='|'; echo "${targets[*]}")
  timed test_s run_ctest build-tsan --timeout 1200 -L "^(${labels})\$"
}

stage_fuzz() {
  cmake -S . -B build-asan "${asan_args[@]}"
  local fuzzers
  mapfile -t fuzzers < <(ninja -C build-asan -t targets all | cut -d: -f1 | grep -E '^[a-z_]+_fuzzer$')
  timed build_s cmake --build build-asan -j "$jobs" --target "${fuzzers[@]}"
  timed test_s run_ctest build-asan -L '^fuzz-run$'
}

for stage in "${stages[@]}"; do
  case "$stage" in
    plain | asan | tsan | fuzz) ;;
    *) echo "test.sh: unknown stage '$stage' (plain, asan, tsan, fuzz)" >&2; exit 2 ;;
  esac
done
for stage in "${stages[@]}"; do
  current=$stage
  echo "== scripts/test.sh: stage ${stage} =="
  build_s=0
  test_s=0
  "stage_${stage}"
  report+=("$(printf '%-6s build %5d s   tests %5d s' "$stage" "$build_s" "$test_s")")
done
current=""
