#!/usr/bin/env bash
# Parses every world of every wit/ package with jco (`jco types`, the
# toolchain the examples are built with; pinned in
# examples/productcatalog/package-lock.json), so a WIT syntax or name error
# fails `make wit`. pkg/observe's tests check its Go types against the WIT.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pc=$root/examples/productcatalog
if [ ! -x "$pc/node_modules/.bin/jco" ]; then
  (cd "$pc" && npm ci --no-audit --no-fund)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$pc"
n=0
for f in "$root"/wit/*.wit; do
  for w in $(sed -nE 's/^world ([a-z0-9-]+) \{.*/\1/p' "$f"); do
    node --import ./scripts/preopen.mjs node_modules/@bytecodealliance/jco/dist/jco.js types "$f" -q -n "$w" -o "$out/$w"
    n=$((n + 1))
  done
done
echo "wit: $n worlds parse"
