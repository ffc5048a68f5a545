#!/usr/bin/env bash
# Builds build/productcatalog.wasm from src/ and wit/ with the jco pinned in
# package-lock.json, then checks the component's world and runs the tests.
#   ./build.sh            npm ci (if needed), componentize, check, test
#   SKIP_TESTS=1 ./build.sh   componentize and check only
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x node_modules/.bin/jco ]; then
  npm ci --no-audit --no-fund
fi

# scripts/preopen.mjs gives jco's WASI-hosted tools the filesystem (see there).
jco() { node --import ./scripts/preopen.mjs node_modules/@bytecodealliance/jco/dist/jco.js "$@"; }

# The WIT it builds against: wit/ plus the canvas's own packages from the
# repository's wit/ (the source of truth; no copy is kept here).
rm -rf build/wit && mkdir -p build/wit/deps/wasmcanvas-observe build/wit/deps/wasmcanvas-identity
cp -r wit/world.wit wit/deps build/wit/
cp ../../wit/observe.wit build/wit/deps/wasmcanvas-observe/
cp ../../wit/identity.wit build/wit/deps/wasmcanvas-identity/
start=$(date +%s)
jco componentize src/component.js --bundle --wit build/wit --world-name productcatalog -o build/productcatalog.wasm
echo "componentize: $(( $(date +%s) - start ))s, $(stat -c %s build/productcatalog.wasm) bytes"

# The world the canvas runtime links: fail the build when it drifts.
jco wit build/productcatalog.wasm > build/productcatalog.wit
got=$(grep -E '^\s*(import|export) ' build/productcatalog.wit | sed -E 's/^\s+//; s/;$//' | sort)
want=$(sort scripts/expected-world.txt)
if [ "$got" != "$want" ]; then
  echo "build.sh: the component's world differs from scripts/expected-world.txt:" >&2
  diff <(echo "$want") <(echo "$got") >&2 || true
  echo "If the change is intended (e.g. a jco upgrade), update scripts/expected-world.txt and tell the runtime owners." >&2
  exit 1
fi
echo "world: OK ($(echo "$got" | wc -l) imports/exports, see build/productcatalog.wit)"

if [ "${SKIP_TESTS:-}" != "1" ]; then
  node --test test/catalog.test.js test/component.test.js
fi
