#!/usr/bin/env bash
# install_test.sh <annals source> <annals build> <work dir> [consumer cmake args...]
#
# What a user of annals does, checked end to end (ctest: install_consumers,
# label "install"): install the build into a fresh prefix under <work dir>,
# then build and run the consumer in consumer/ (a program that opens a store,
# appends, reads back and verifies):
#   1. find_package(annals) with CMAKE_PREFIX_PATH=<prefix>, also compiling
#      every installed public header on its own;
#   2. pkg-config: c++ -std=c++20 consumer.cc $(pkg-config --cflags --libs annals)
#      (the schema compiled with flatc by hand);
#   3. add_subdirectory(<annals source>) with no other line (builds annals'
#      event store again, so only the consumer target is built; as shared
#      libraries, which checks BUILD_SHARED_LIBS and the SOVERSION);
#   4. find_package(annals) from the build tree (export()), annals_DIR=<build>;
#   5. the getting-started project (examples/getting_started/, the code of
#      docs/getting-started.md) with find_package against the prefix: it
#      builds, its tests pass, and it runs as the page says.
# Prints each step's seconds. <work dir> is emptied first; a fixed path (not
# mktemp) so that ccache, when the build uses it, hits on the next run.
set -euo pipefail
src=$1 build=$2 work=$3
shift 3
consumer_args=("$@")
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
total_start=$SECONDS
step_start=$SECONDS
step() {
  echo "== $* ($((SECONDS - step_start)) s since the last step)"
  step_start=$SECONDS
}
fail() {
  echo "install_test: $*" >&2
  exit 1
}
# consumer <name> "<targets>" <cmake args...>: configures consumer/ into
# $work/<name> with the args, builds the targets and runs the consumer.
consumer() {
  local name=$1 targets=$2
  shift 2
  local dir=$work/$name log=$work/$name.log
  # shellcheck disable=SC2086  # $targets is a list
  cmake -S "$here/consumer" -B "$dir" "$@" "${consumer_args[@]}" >"$log" 2>&1 &&
    cmake --build "$dir" --target $targets >>"$log" 2>&1 ||
    { cat "$log"; fail "the $name consumer did not build"; }
  "$dir/consumer"
}

step "install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
version=$(sed -n 's/^#define ANNALS_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/annals/version.h")
[[ -n "$version" ]] || fail "no annals/version.h with ANNALS_VERSION_STRING installed"
config=$(find "$prefix" -name annalsConfig.cmake)
pc=$(find "$prefix" -name annals.pc)
[[ -n "$config" && -f "$(dirname "$config")/annalsConfigVersion.cmake" ]] ||
  fail "annalsConfig.cmake / annalsConfigVersion.cmake not installed"
[[ -n "$pc" ]] || fail "annals.pc not installed"
[[ -f "$prefix/include/annals/event_store.h" ]] || fail "public headers not installed"
# Internal headers and generated schema headers stay out of the package.
leaked=$(find "$prefix/include" -type f ! -path "$prefix/include/annals/*" -o -name '*_generated.h')
[[ -z "$leaked" ]] || fail "installed beyond include/annals/: $leaked"
out=$("$prefix/bin/annals" --version)
[[ "$out" == "annals $version" ]] || fail "installed annals --version printed '$out', want 'annals $version'"

step "1. find_package(annals) with CMAKE_PREFIX_PATH"
consumer find_package "consumer public_headers" "-DCMAKE_PREFIX_PATH=$prefix"

step "2. pkg-config"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs annals)
echo "pkg-config --cflags --libs annals: $flags"
libdir=$(pkg-config --variable=libdir annals)
mkdir -p "$work/pkg-config"
flatc --cpp --cpp-std c++17 -o "$work/pkg-config" "$here/consumer/greeting.fbs"
# -rpath: a shared build's libraries are not in the loader's path.
# shellcheck disable=SC2086  # $flags is a list of flags
${CXX:-c++} -std=c++20 "$here/consumer/consumer.cc" -o "$work/pkg-config/consumer" \
  "-I$work/pkg-config" $flags "-Wl,-rpath,$libdir"
"$work/pkg-config/consumer"

step "3. add_subdirectory(annals) with no other line, shared libraries"
# Only the consumer and what it links (annals::eventstore, annals::common),
# compiled anew anyway: as shared libraries, so that every run also checks
# BUILD_SHARED_LIBS and the SOVERSION (0.<minor> before 1.0, else <major>).
consumer add_subdirectory consumer "-DANNALS_SOURCE_DIR=$src" -DBUILD_SHARED_LIBS=ON
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
soversion=$major
[[ "$major" == 0 ]] && soversion=0.$minor
for lib in eventstore common; do
  grep "libannals_$lib\.so\.$soversion " >/dev/null <<<"$(ldd "$work/add_subdirectory/consumer")" ||
    fail "the add_subdirectory consumer does not load libannals_$lib.so.$soversion: $(ldd "$work/add_subdirectory/consumer")"
done
# A subproject builds no tests, benchmarks or examples of annals by default.
for option in ANNALS_BUILD_TESTS ANNALS_BUILD_BENCH ANNALS_BUILD_EXAMPLES; do
  grep -q "^$option:BOOL=OFF$" "$work/add_subdirectory/CMakeCache.txt" ||
    fail "$option is not OFF when annals is a subproject"
done

step "4. find_package(annals) from the build tree (annals_DIR)"
consumer build_tree consumer "-Dannals_DIR=$build"

step "5. the getting-started project (docs/getting-started.md) against the installed annals"
gs=$work/getting_started
cmake -S "$src/examples/getting_started" -B "$gs" "-DCMAKE_PREFIX_PATH=$prefix" \
  "${consumer_args[@]}" >"$work/getting_started.log" 2>&1 &&
  cmake --build "$gs" >>"$work/getting_started.log" 2>&1 ||
  { cat "$work/getting_started.log"; fail "the getting-started project did not build"; }
"$gs/bank_test" >/dev/null || fail "the getting-started project's tests failed"
"$src/tests/docs/getting_started_test.sh" "$gs/bank_service" "$gs/bank_annals"

step "done"
echo "install_test: all consumers built and ran in $((SECONDS - total_start)) s"
