#!/bin/sh
# Builds dist/traced-js.wasm from src/app.js with the jco pinned in
# package-lock.json. Run from anywhere; needs node >= 20 and npm.
#
# The WIT: wit/world.wit, the canvas's wasmcanvas:observe from the
# repository's wit/ (the source of truth; no copy is kept here), and WASI
# 0.2.10 from the installed jco package (../wasi-wit.sh says how).
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
rm -rf build dist
mkdir -p build/wit/deps/wasmcanvas-observe dist
cp wit/world.wit build/wit/
cp ../../../wit/observe.wit build/wit/deps/wasmcanvas-observe/
sh ../wasi-wit.sh build/wit
node --import ../preopen.mjs node_modules/.bin/jco componentize src/app.js \
  --wit build/wit --world-name traced -o dist/traced-js.wasm
