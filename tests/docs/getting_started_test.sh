#!/usr/bin/env bash
# Runs the getting-started service as docs/getting-started.md says, twice on
# one store, then audits the store with the service's own annals binary.
#   getting_started_test.sh <bank_service> <bank_annals>
set -euo pipefail
service=$1
annals=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
store=$dir/bank

fail() { echo "getting_started_test: $*" >&2; exit 1; }

out=$("$service" "$store")
grep -q 'balance 7500 cents; read model: 7500 cents' <<<"$out" || fail "first run printed: $out"
grep -q 'overdraft: FAILED_PRECONDITION: insufficient funds' <<<"$out" || fail "no refusal: $out"
# A second run: the account exists (Open is refused), the deposit and the
# withdrawal run again, and the read model still agrees.
out=$("$service" "$store")
grep -q 'at version 5: balance 15000 cents; read model: 15000 cents' <<<"$out" ||
  fail "second run printed: $out"

"$annals" verify "$store" | grep '"ok":true' >/dev/null || fail "verify is not ok"
replay=$("$annals" replay "$store" account-ada --aggregate account)
grep -q '"balance_cents":15000' <<<"$replay" || fail "replay printed: $replay"
replay=$("$annals" replay "$store" account-ada --aggregate account --to-version 3)
grep -q '"balance_cents":7500' <<<"$replay" || fail "replay to version 3 printed: $replay"
# FlatBuffers payloads come out as JSON, not base64: the binary knows the bank.
events=$("$annals" read "$store" account-ada)
grep -q '"amount_cents":10000' <<<"$events" || fail "read printed: $events"
"$annals" projections "$store" | grep '"balances"' >/dev/null || fail "projections does not list balances"
echo "getting_started_test: ok"
