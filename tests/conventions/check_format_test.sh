#!/usr/bin/env bash
# scripts/check-format.sh lists what deviates from .clang-format, and only
# that, with the right exit status, and changes nothing.
#   check_format_test.sh <repo root>
set -euo pipefail
root=$1
check="$root/scripts/check-format.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cp "$root/.clang-format" "$dir/"
fail() { echo "check_format_test: $*" >&2; exit 1; }

printf 'int Add(int a, int b) { return a + b; }\n' >"$dir/good.cc"
# Five lines clang-format rewrites (into two): the short function goes on one
# line with its spacing fixed, the split declaration is joined.
printf 'int  Sub(int a,int b) {\n  return a-b;\n}\nint\nMul(int a, int b);\n' >"$dir/bad.cc"
cp "$dir/bad.cc" "$dir/bad.orig"

out="$("$check" "$dir/good.cc" 2>&1)" || fail "a formatted file was reported: $out"
grep -q "all 1 files formatted" <<<"$out" || fail "no summary: $out"

set +e
out="$("$check" "$dir/good.cc" "$dir/bad.cc" 2>/dev/null)"
rc=$?
set -e
((rc == 1)) || fail "exit $rc with a deviating file, expected 1"
[[ "$out" == "$dir/bad.cc: 5 lines differ" ]] || fail "unexpected listing: $out"
cmp -s "$dir/bad.cc" "$dir/bad.orig" || fail "the script changed a file"

set +e
out="$("$check" --diff "$dir/bad.cc" 2>/dev/null)"
rc=$?
set -e
((rc == 1)) || fail "--diff: exit $rc"
grep -qF '+int Sub(int a, int b) { return a - b; }' <<<"$out" || fail "--diff shows no fix: $out"

set +e
"$check" "$dir/missing.cc" >/dev/null 2>&1
rc=$?
set -e
((rc == 2)) || fail "a missing file gave exit $rc, expected 2"
echo "check_format_test: ok"
