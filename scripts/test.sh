#!/usr/bin/env bash
# Installs what is missing, builds annals with its tests and runs them all.
#
#   ./scripts/test.sh                 # the default run (CI runs this)
#   ANNALS_SOAK=1 ./scripts/test.sh   # also long soaks (200 SIGKILL rounds)
#   ANNALS_SANITIZE=address,undefined ./scripts/test.sh   # or thread
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

build_dir=build
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release)
if [[ -n "${ANNALS_SANITIZE:-}" ]]; then
  build_dir="build-${ANNALS_SANITIZE//,/-}"
  cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DANNALS_SANITIZE=${ANNALS_SANITIZE}")
  # RocksDB's group commit shows benign races to TSan; our code is still checked.
  export TSAN_OPTIONS="ignore_noninstrumented_modules=1 ${TSAN_OPTIONS:-}"
fi
if [[ "${ANNALS_SOAK:-0}" == "1" ]]; then
  export ANNALS_CRASH_ROUNDS=200
fi

cmake -S . -B "$build_dir" "${cmake_args[@]}"
cmake --build "$build_dir" -j "$(nproc)"
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)" --timeout 600
