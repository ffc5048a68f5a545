#!/bin/sh
# Builds dist/hello-js.wasm from src/app.js with the jco pinned in
# package-lock.json. Run from anywhere; needs node >= 20 and npm.
#
# The WASI 0.2.10 WIT comes from the installed jco package, not from this
# repository: wasi-io and wasi-clocks as shipped (lib/wit/builtin/0.2.10),
# wasi-http from the bundled 0.2.12 package relabelled 0.2.10 with its
# worlds removed (only its types and incoming-handler interfaces are used).
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
builtin=node_modules/@bytecodealliance/jco/lib/wit/builtin
rm -rf build dist
mkdir -p build/wit/deps/wasi-io build/wit/deps/wasi-clocks build/wit/deps/wasi-http dist
cp wit/world.wit build/wit/
cp "$builtin/0.2.10/wasi-io/package.wit" build/wit/deps/wasi-io/
cp "$builtin/0.2.10/wasi-clocks/package.wit" build/wit/deps/wasi-clocks/
sed 's/0\.2\.12/0.2.10/g' "$builtin/0.2.12/wasi-http/package.wit" |
  awk '/^world /{skip=1} skip && /^}/{skip=0; next} !skip' > build/wit/deps/wasi-http/package.wit
node --import ./preopen.mjs node_modules/.bin/jco componentize src/app.js \
  --wit build/wit --world-name hello -o dist/hello-js.wasm
