#!/usr/bin/env bash
# Installs what is missing, builds annals and runs its tests, in stages.
#
#   ./scripts/test.sh                       # every stage: what CI runs (.ci/run)
#   ANNALS_STAGES=plain ./scripts/test.sh   # chosen stages, in the order given
#   ANNALS_STAGES="asan fuzz" ./scripts/test.sh
#   ANNALS_FUZZ_SECONDS=600 ANNALS_STAGES=fuzz ./scripts/test.sh   # fuzz longer
#   ANNALS_SOAK=1 ./scripts/test.sh         # also long soaks (200 SIGKILL rounds,
#                                           # 3,000 cuts and flips, every k)
#
# Stages, each in its own build directory, fast ones first:
#   plain  gcc, Release: the whole suite, with the fuzz corpus replays       build/
#   tsan   clang, TSan: the concurrency, projection, subscription, read-model,
#          repository, append-semantics, mutex and statistics tests, and the
#          lifecycle tests (retention, deletes, scavenging, forget)            build-tsan/
#   asan   clang, ASan+UBSan (any finding fails its test): the whole suite,
#          the heaviest tests with fewer rounds (sanitizer_rounds below)    build-asan/
#   fuzz   every libFuzzer target for ANNALS_FUZZ_SECONDS (default 45) from
#          its seed corpus, two at a time; findings in
#          build-asan/fuzz/findings/<target>/                               build-asan/
# The run stops at the first failing stage. Each stage prints ctest's summary;
# the end prints each stage's wall and CPU seconds (CPU: user + system of
# everything it ran; on a shared machine the wall time is an upper bound and
# CPU / cores a lower bound of what a dedicated machine takes) and the totals.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

read -r -a stages <<<"${ANNALS_STAGES:-plain tsan asan fuzz}"
jobs=$(nproc)
fuzz_seconds=${ANNALS_FUZZ_SECONDS:-45}
# The test binaries TSan runs (ctest labels: each test carries its binary's
# name): every test whose own threads share a store or a runner.
tsan_tests=(concurrency_test subscription_test projection_test projection_crash_test
            projection_exceptions_test read_model_test cafe_read_models_test
            append_semantics_test event_store_test repository_test aggregate_exceptions_test
            mutex_test statistics_test store_statistics_test projection_statistics_test
            retention_test stream_delete_test scavenge_test crypto_shredding_test)

# Rounds of the heaviest tests under ASan, where each round is several times
# slower: enough to run every scenario and code path, while the plain stage
# keeps the full counts (300 power cuts, 300 bit flips, 10 k per fault kind
# and every k of directory syncs and renames, 25 kills). The tests read these
# variables (docs/reliability.md); ANNALS_SOAK=1 keeps the soak counts.
sanitizer_rounds=()
if [[ "${ANNALS_SOAK:-0}" == "1" ]]; then
  export ANNALS_CRASH_ROUNDS=200
else
  sanitizer_rounds=(ANNALS_POWER_CUTS=60 ANNALS_BIT_FLIP_TRIALS=60 ANNALS_SWEEP_PER_KIND=3
                    ANNALS_CRASH_ROUNDS=5)
fi
# A sanitizer finding fails the test that made it, with a symbolized stack.
# RocksDB's group commit shows benign races to TSan (Debian's librocksdb is not
# instrumented); our code is still checked.
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
export TSAN_OPTIONS="ignore_noninstrumented_modules=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp:${TSAN_OPTIONS:-}"
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

times_file=$(mktemp)
report=()
total_passed=0
total_failed=0
current=""
run_start=$SECONDS
finish() {
  local rc=$?
  echo
  echo "== scripts/test.sh: stages (wall / CPU seconds) =="
  local line
  for line in "${report[@]}"; do echo "$line"; done
  if ((rc != 0)); then
    echo "stage '${current}' FAILED (exit ${rc}); later stages did not run"
    # A failure still ends with the count of what ran.
    total_failed=$((total_failed > 0 ? total_failed : 1))
  fi
  local cpu
  children_cpu cpu
  echo "total: ${total_passed} passed, ${total_failed} failed;" \
    "$((SECONDS - run_start)) s wall, ${cpu} s CPU on ${jobs} cores"
  rm -f "$times_file"
}
trap finish EXIT

# Variables (NAME=value) for the tests of the next run_ctest.
ctest_env=()
# Runs ctest in <dir> with <args> and ctest_env, tees its output and adds its summary
# ("100% tests passed, 0 tests failed out of 171") to the totals.
run_ctest() {
  local dir=$1
  shift
  local log="${dir}/ctest-${current}.log" rc=0
  (cd "$dir" && env "${ctest_env[@]}" ctest --output-on-failure --no-tests=error -j "$jobs" "$@") \
    2>&1 | tee "$log" || rc=$?
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

# Sets the variable named by $1 to the user + system seconds of every child
# of this shell that has ended (bash's `times`, second line; compilers and
# tests count once their parents have waited for them).
children_cpu() {
  local -n cpu_out=$1
  local line re='([0-9]+)m([0-9]+)\.[0-9]+s ([0-9]+)m([0-9]+)\.[0-9]+s'
  times >"$times_file"
  { read -r line; read -r line; } <"$times_file"
  cpu_out=0
  [[ $line =~ $re ]] || return 0
  cpu_out=$((BASH_REMATCH[1] * 60 + 10#${BASH_REMATCH[2]} + BASH_REMATCH[3] * 60 +
             10#${BASH_REMATCH[4]}))
}

# Times <command...>: wall seconds into the variable named by $1, CPU
# seconds into the one named by $2.
timed() {
  local -n wall_out=$1 timed_cpu_out=$2
  shift 2
  local start=$SECONDS cpu_before cpu_after
  children_cpu cpu_before
  "$@"
  children_cpu cpu_after
  wall_out=$((SECONDS - start))
  timed_cpu_out=$((cpu_after - cpu_before))
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
  timed build_s build_cpu cmake --build build -j "$jobs"
  timed test_s test_cpu run_ctest build --timeout 600
}

stage_asan() {
  cmake -S . -B build-asan "${asan_args[@]}"
  timed build_s build_cpu cmake --build build-asan -j "$jobs"
  ctest_env=("${sanitizer_rounds[@]}")
  timed test_s test_cpu run_ctest build-asan --timeout 1200 -LE '^fuzz-run$'
  ctest_env=()
}

stage_tsan() {
  cmake -S . -B build-tsan "${sanitizer_args[@]}" -DANNALS_SANITIZE=thread
  local targets
  mapfile -t targets < <(existing_targets build-tsan "${tsan_tests[@]}")
  timed build_s build_cpu cmake --build build-tsan -j "$jobs" --target "${targets[@]}"
  local labels
  labels=$(IFS='|'; echo "${targets[*]}")
  timed test_s test_cpu run_ctest build-tsan --timeout 1200 -L "^(${labels})\$"
}

stage_fuzz() {
  cmake -S . -B build-asan "${asan_args[@]}"
  local fuzzers
  mapfile -t fuzzers < <(ninja -C build-asan -t targets all | cut -d: -f1 | grep -E '^[a-z_]+_fuzzer$')
  timed build_s build_cpu cmake --build build-asan -j "$jobs" --target "${fuzzers[@]}"
  timed test_s test_cpu run_ctest build-asan -L '^fuzz-run$'
  # libFuzzer's own count of the inputs each target ran (its final stats, in
  # ctest's full log).
  local line target="" counts=""
  while IFS= read -r line; do
    if [[ $line =~ ^[0-9]+/[0-9]+\ Test:\ fuzz_run_([a-z_]+) ]]; then
      target=${BASH_REMATCH[1]}
    elif [[ $line =~ ^stat::number_of_executed_units:\ +([0-9]+) ]]; then
      counts+=" ${target} ${BASH_REMATCH[1]},"
    fi
  done <build-asan/Testing/Temporary/LastTest.log
  stage_note="fuzz inputs run in ${fuzz_seconds} s:${counts%,}"
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
  build_cpu=0
  test_s=0
  test_cpu=0
  stage_note=""
  "stage_${stage}"
  report+=("$(printf '%-6s build %5d / %5d s   tests %5d / %5d s' "$stage" "$build_s" \
    "$build_cpu" "$test_s" "$test_cpu")")
  if [[ -n "$stage_note" ]]; then report+=("       ${stage_note}"); fi
done
current=""
