#!/usr/bin/env bash
# Under `set -o pipefail`, `producer | grep -q PATTERN` fails at random: grep -q
# exits at the first match, the producer then dies of SIGPIPE (exit 141) and the
# pipeline reports failure although the pattern was found. CI failed this way
# once (install_test.sh on `ldd | grep -q`). Scripts must let grep read all of
# its input (`grep PATTERN >/dev/null`) or feed it from a here-string.
# Usage: shell_pipelines_check.sh <source dir>
set -euo pipefail
src=$1
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  scripts=$(cd "$src" && git ls-files -- '*.sh' '.ci/*' | grep -v 'shell_pipelines_check\.sh$')
else
  scripts=$(cd "$src" && find . -path ./build -prune -o \( -name '*.sh' -o -path './.ci/*' \) -type f ! -name shell_pipelines_check.sh -print)
fi
found=$(cd "$src" && xargs -r grep -nE '\|[[:space:]]*grep[[:space:]]+(-[a-zA-Z]*q|--quiet)' <<<"$scripts" |
  grep -vE '^[^:]+:[0-9]+:[[:space:]]*#' || true)
if [[ -n "$found" ]]; then
  echo "shell_pipelines_check: 'cmd | grep -q' under pipefail can fail on SIGPIPE; use 'grep PATTERN >/dev/null':" >&2
  echo "$found" >&2
  exit 1
fi
echo "shell_pipelines_check: no 'cmd | grep -q' in the project's scripts"
