#!/usr/bin/env bash
# The locking conventions are compiler-checked: common/mutex.h's annotations
# make clang -Wthread-safety accept correct code and reject each broken rule.
#   thread_safety_check.sh <clang++> <repo root>
set -euo pipefail
clang=$1
root=$2
flags=(-std=c++20 -fsyntax-only -Wthread-safety -Werror -I"$root")
here="$root/tests/conventions"

"$clang" "${flags[@]}" "$here/thread_safety_good.cc" ||
  { echo "thread_safety_check: correct locking was rejected" >&2; exit 1; }

if out=$("$clang" "${flags[@]}" "$here/thread_safety_bad.cc" 2>&1); then
  echo "thread_safety_check: broken locking compiled: the annotations check nothing" >&2
  exit 1
fi
for want in "writing variable 'n_' requires holding mutex 'mu_' exclusively" \
            "writing variable 'shared_' requires holding mutex 'shared_mu_' exclusively" \
            "calling function 'Locked' requires holding mutex 'mu_' exclusively" \
            "writing variable 'm_' requires holding mutex 'mu_' exclusively"; do
  grep -qF "$want" <<<"$out" || { echo "thread_safety_check: clang did not say: $want" >&2
                                  echo "$out" >&2; exit 1; }
done
echo "thread_safety_check: ok"
