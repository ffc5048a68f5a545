#!/bin/sh
# Builds dist/hello-js.wasm from src/app.js with the jco pinned in
# package-lock.json. Run from anywhere; needs node >= 20 and npm.
#
# The WASI 0.2.10 WIT comes from the installed jco package, not from this
# repository (../wasi-wit.sh says how).
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
rm -rf build dist
mkdir -p build/wit dist
cp wit/world.wit build/wit/
sh ../wasi-wit.sh build/wit
node --import ../preopen.mjs node_modules/.bin/jco componentize src/app.js \
  --wit build/wit --world-name hello -o dist/hello-js.wasm
