#!/usr/bin/env bash
# Installs the Debian packages annals needs to build, test and benchmark.
# Idempotent: packages already present are not reinstalled. Runs apt-get as root or via sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  librocksdb-dev libflatbuffers-dev flatbuffers-compiler libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libssl-dev
  libsqlite3-dev
  libzstd-dev  # payload compression (codec/)
  python3  # bench/run_comparison.py (the quick benchmark test)
  e2fsprogs util-linux mount  # full_disk_test: mkfs.ext4, loop devices, mount (as root)
  # scripts/test.sh's sanitizer and fuzz stages: clang, its sanitizer and
  # libFuzzer runtimes, llvm-symbolizer for the stacks.
  clang libclang-rt-14-dev llvm
  clang-format-14  # scripts/check-format.sh: ctest's format_tree keeps the tree formatted
)
# Extra packages for the comparison benchmarks (bench/run_comparison.sh --with-peers).
if [[ "${ANNALS_BENCH_PEERS:-0}" == "1" ]]; then
  packages+=(gnuplot-nox postgresql-15)
  # Node.js may come from elsewhere (e.g. NodeSource's nodejs ships its own npm and conflicts
  # with Debian's npm package): install Debian's only when the command is missing.
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
