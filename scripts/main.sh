#!/usr/bin/env bash
# The main job: installs what is missing, builds annals in Release, runs the
# café example service on an embedded store in ./data, then audits the store:
# with the stock `annals` CLI, verify the whole log, stats, export it and
# import the export into a copy; with the café's own binary `cafe_annals`
# (the stock CLI plus the café's aggregates and event rendering), replay one
# order as of an earlier time and as of now and read its events as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target annals cafe cafe_annals

annals=build/cli/annals
cafe_annals=build/examples/cafe_annals/cafe_annals
rm -rf ./data
mkdir -p ./data
store=./data/cafe

echo "== run the café: 1000 orders of simulated traffic (seed 42)"
build/examples/cafe/cafe "$store" 1000 42 | tee ./data/cafe-summary.json
order=$(sed -n 's/.*"sample_order":"\([^"]*\)".*/\1/p' ./data/cafe-summary.json)
as_of=$(sed -n 's/.*"sample_as_of":"\([^"]*\)".*/\1/p' ./data/cafe-summary.json)

echo "== audit: verify every record's checksum, the hash chain and the indexes"
$annals verify "$store"
echo "== audit (cafe_annals): replay $order as of $as_of (when it was paid)"
$cafe_annals replay "$store" "$order" --aggregate order --as-of "$as_of"
echo "== audit (cafe_annals): replay $order as of now (an item was out of stock: cancelled and refunded)"
$cafe_annals replay "$store" "$order" --aggregate order
echo "== audit (cafe_annals): its events, rendered as JSON"
$cafe_annals read "$store" "$order"
echo "== stats"
$annals stats "$store"
echo "== export, import into a copy, verify the copy"
$annals export "$store" > ./data/cafe-export.jsonl
$annals import ./data/cafe-copy < ./data/cafe-export.jsonl
$annals verify ./data/cafe-copy
