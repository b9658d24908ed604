#!/usr/bin/env bash
# The main job: installs what is missing, builds annals in Release, then runs
# an embedded store end to end and audits it with the `annals` CLI.
# The store is left in ./data (removed and recreated on each run).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target annals

annals=build/cli/annals
store=./data/store
rm -rf ./data
mkdir -p ./data

echo "== append three events to order-42 (the store is created on first append)"
$annals append "$store" order-42 --expect no-stream --type OrderPlaced --data '{"table":4}'
printf '%s\n' '{"type":"ItemAdded","data":{"sku":"A1","qty":2}}' \
              '{"type":"OrderPaid","data":{"amount_cents":700}}' |
  $annals append "$store" order-42 --expect 1
echo "== a conflicting append (wrong expected version) exits 3"
set +e
$annals append "$store" order-42 --expect 1 --type OrderPaid --data '{}'
echo "exit code: $?"
set -e
echo "== read it back"
$annals read "$store" order-42
echo "== verify the whole store"
$annals verify "$store"
