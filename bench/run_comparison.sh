#!/usr/bin/env bash
# One command for annals' comparison benchmark (docs/benchmarks.md):
#
#   bench/run_comparison.sh [--quick] [--systems annals,rocksdb,sqlite,postgres]
#                           [--workloads durable-append,scan-all,...] [--rounds 3]
#                           [--out DIR] [--doc docs/benchmarks.md] [--no-install]
#                           [--baseline-build-dir DIR [--baseline-label L]]
#
# Builds the drivers in build-bench (Release) when needed, then runs
# bench/run_comparison.py, which installs the peers it needs (Debian packages
# through scripts/install-deps.sh with ANNALS_BENCH_PEERS=1, Emmett through
# npm into bench/peers/node_modules) unless --no-install, and skips a peer it
# cannot get with a message saying why.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ANNALS_BENCH_BUILD_DIR:-$root/build-bench}"
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target annals_bench_driver >/dev/null
exec python3 "$root/bench/run_comparison.py" --build-dir "$build" "$@"
