#!/usr/bin/env bash
# Lists the C++ sources that deviate from the repo's .clang-format, as
# Debian 12's clang-format 14 formats them. Changes nothing.
#
#   scripts/check-format.sh [--diff] [FILE...]
#
# Without FILE: every tracked *.cc, *.h, *.cpp, *.hpp of the repository (git
# ls-files; every such file below the root when the tree is not a git
# checkout). Prints one line per deviating file, "<path>: <N> lines differ",
# then a summary; with --diff also the changes clang-format would make. A
# deviation is a line that `clang-format -i` would rewrite. Exit status: 0
# when every file is formatted, 1 when any deviates, 2 when clang-format 14
# is missing or a file cannot be formatted.
#
# Fix one file with `clang-format-14 -i FILE`. CI runs it on the whole tree
# (ctest test format_tree, tests/conventions/CMakeLists.txt).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
show_diff=0
files=()
for arg in "$@"; do
  case "$arg" in
    --diff) show_diff=1 ;;
    -h | --help)
      sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "check-format: unknown option $arg (see --help)" >&2
      exit 2
      ;;
    *) files+=("$arg") ;;
  esac
done

# The formatter: clang-format 14 exactly, because each release formats some
# constructs differently and the result must not depend on the machine.
clang_format=""
for candidate in clang-format-14 clang-format; do
  if command -v "$candidate" >/dev/null &&
    "$candidate" --version | grep 'clang-format version 14\.' >/dev/null; then
    clang_format="$candidate"
    break
  fi
done
if [[ -z "$clang_format" ]]; then
  echo "check-format: needs clang-format 14 (Debian 12: apt-get install clang-format-14)" >&2
  exit 2
fi

if ((${#files[@]} == 0)); then
  cd "$root"
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files -- '*.cc' '*.h' '*.cpp' '*.hpp')
  else
    mapfile -t files < <(find . -path ./.git -prune -o -path './build*' -prune -o \
      -path ./bench/peers/node_modules -prune -o \
      -type f \( -name '*.cc' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) -print |
      sed 's|^\./||' | sort)
  fi
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
deviating=0
lines_total=0
status=0
for f in "${files[@]}"; do
  if [[ ! -f "$f" ]]; then
    echo "check-format: no such file: $f" >&2
    status=2
    continue
  fi
  # --style=file: the .clang-format nearest to the file, as `clang-format -i`.
  if ! "$clang_format" --style=file "$f" >"$scratch/formatted"; then
    echo "check-format: clang-format failed on $f" >&2
    status=2
    continue
  fi
  cmp -s "$f" "$scratch/formatted" && continue
  # Lines clang-format would rewrite (at least 1: the difference may be a
  # missing newline at the end).
  changed="$(diff "$f" "$scratch/formatted" | grep -c '^<' || true)"
  ((changed > 0)) || changed=1
  deviating=$((deviating + 1))
  lines_total=$((lines_total + changed))
  echo "$f: $changed lines differ"
  if ((show_diff)); then
    diff -u --label "$f" --label "$f (clang-format)" "$f" "$scratch/formatted" || true
  fi
done

if ((deviating > 0)); then
  echo "check-format: $deviating of ${#files[@]} files deviate from .clang-format" \
    "($lines_total lines); fix with clang-format -i FILE" >&2
  ((status == 2)) || status=1
elif ((status == 0)); then
  echo "check-format: all ${#files[@]} files formatted" >&2
fi
exit "$status"
