#!/usr/bin/env bash
# Regenerates wit/deps/wasi-*-0.2.10 from the WASI WIT that the pinned
# @bytecodealliance/jco bundles (run after `npm ci`; the output is committed).
#
# The componentize-js engine (StarlingMonkey) imports WASI at exactly 0.2.10
# and splices our world into its own, so every WASI package we name must be
# 0.2.10 and agree with the engine's copy. jco ships the engine's own 0.2.10
# text for clocks, io and sockets (with the engine's unstable features made
# stable), and WASI 0.2.12 for the rest; WASI 0.2 patch releases keep
# declarations unchanged, so http, random and cli are the 0.2.12 text
# relabelled. cli loses its worlds: they include filesystem and sockets
# worlds the engine copies lack, and the proxy world needs only cli's
# interfaces. build.sh then checks the finished component's world.
set -euo pipefail
cd "$(dirname "$0")/.."
builtin=node_modules/@bytecodealliance/jco/lib/wit/builtin
rm -rf wit/deps/wasi-*-0.2.10
for p in wasi-clocks wasi-io; do
  mkdir -p "wit/deps/$p-0.2.10"
  cp "$builtin/0.2.10/$p/package.wit" "wit/deps/$p-0.2.10/package.wit"
done
for p in wasi-http wasi-random wasi-cli; do
  mkdir -p "wit/deps/$p-0.2.10"
  sed 's/@0\.2\.12/@0.2.10/g' "$builtin/0.2.12/$p/package.wit" > "wit/deps/$p-0.2.10/package.wit"
done
# Drop every top-level `world ... { ... }` block from cli.
awk '/^world /{skip=1} !skip{print} skip && /^}/{skip=0}' wit/deps/wasi-cli-0.2.10/package.wit > wit/deps/wasi-cli-0.2.10/package.wit.tmp
mv wit/deps/wasi-cli-0.2.10/package.wit.tmp wit/deps/wasi-cli-0.2.10/package.wit
